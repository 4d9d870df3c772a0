"""The Experiment tab of a model: the running (else the last) randomised experiment, its
pre-registered design, both arms at each maturation date with the interval and the boundary,
the outcomes still needed, the decision, and its Stop form (a ``bantay_shadow`` run, as
``bantay experiment stop``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bantay.monitoring.experiment_inputs import ExperimentDataError, experiment_report
from bantay.ui.queries import Reader


def experiment_tab(r: Reader, model: str, today: dt.date) -> dict[str, Any]:
    """What the tab shows: ``experiment`` (the record without its key) and ``analysis`` (the
    report as of ``today``, or why there is none yet); an empty dict when none ever ran."""
    record = r.experiment(model)
    if record is None:
        return {}
    public = {k: v for k, v in record.items() if k != "key"}
    stopped = record.get("stopped_at")
    as_of = dt.date.fromisoformat(stopped[:10]) if stopped else today
    try:
        result = experiment_report(
            r.settings.model(model), r.settings.layout, r.registry, record, as_of
        )
    except ExperimentDataError as exc:
        return {"experiment": public, "analysis": None, "waiting": str(exc)}
    except (OSError, ValueError) as exc:
        r.errors.append(f"could not judge experiment {record['id']}: {exc}")
        return {"experiment": public, "analysis": None, "waiting": None}
    return {"experiment": public, "analysis": result.to_dict(), "waiting": None}

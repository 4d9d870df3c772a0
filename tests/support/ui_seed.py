"""A registry and S3 store filled through bantay's own APIs, as a real lifecycle leaves them.

Per model: a first version promoted, a second promoted over it (the first is archived), a third
rejected by the gate, and a fourth that passed the gate and waits for a person's approval; one
drift row per day with a short DRIFT episode that triggered a retrain. The waiting versions of all
models come from runs with the same run id, as on a real deployment: each model has its own
training DAG, and their runs of one logical date are all named ``scheduled__<date>`` (or, when
triggered for that date, ``manual__<date>``; the seed uses the latter so that a test can create
the Airflow run behind it, which Airflow allows for manual ids only).
Used by the UI tests and ``benchmarks/bench_ui.py`` (365 days x 3 models).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

FEATURES = ("study_minutes", "quiz_score_avg", "attendance_rate", "late_submissions")


@dataclass
class Seeded:
    model: str
    archived: str
    production: str
    rejected: str
    candidate: str = ""  # waits for approval; its run id is the same for every model
    approved: str = ""  # approved after production, published, not serving (when asked for)
    runs: list[str] = field(default_factory=list)  # training run ids, like the versions
    days: list[dt.date] = field(default_factory=list)


def _gate(passed: bool) -> list[dict]:
    """Four checks, and a fifth skipped (too few positives per slice): passed 4/4, 1 skipped."""
    checks = [
        ("quality.min_roc_auc", 0.81, 0.7, True, "roc_auc 0.810 >= 0.700"),
        ("quality.min_pr_auc", 0.52, 0.3, True, "pr_auc 0.520 >= 0.300"),
        (
            "no_regression.pr_auc",
            -0.004 if passed else -0.08,
            -0.02,
            passed,
            "change vs production",
        ),
        ("fairness.recall_gap", 0.11, 0.25, True, "worst slice region=north"),
    ]
    return [
        {
            "name": n,
            "value": v,
            "threshold": t,
            "passed": ok,
            "status": "passed" if ok else "failed",
            "detail": d,
        }
        for n, v, t, ok, d in checks
    ] + [
        {
            "name": "fairness.precision_gap",
            "value": None,
            "threshold": 0.25,
            "passed": True,
            "status": "skipped",
            "detail": "too few positives per slice; skipped",
        }
    ]


def _metrics(pr_auc: float, baseline: float | None) -> dict:
    test = {
        "pr_auc": pr_auc,
        "roc_auc": pr_auc + 0.3,
        "brier": 0.11,
        "threshold_at_precision": 0.682,
        "target_precision": 0.5,
    }
    base = {"pr_auc": baseline, "roc_auc": baseline + 0.3, "brier": 0.12} if baseline else None
    slices = {"region": {"north": {"rows": 400, "positives": 40, "recall": 0.6, "precision": 0.5}}}
    return {"test": test, "production_on_same_test": base, "slices": slices}


def seed_model(
    registry, promotion, model: str, last_day: dt.date, days: int, hold_last: bool = False
) -> Seeded:
    """Versions, promotions and ``days`` drift rows ending ``last_day`` for one model."""
    import pandas as pd

    first_day = last_day - dt.timedelta(days=days - 1)
    ids, runs = [], []
    for i, (pr_auc, baseline, passed) in enumerate(
        [(0.50, None, True), (0.53, 0.50, True), (0.44, 0.53, False)]
    ):
        as_of = dt.datetime.combine(first_day + dt.timedelta(days=i * 20), dt.time(), dt.UTC)
        version = f"v{as_of:%Y%m%dT%H%M%S}-{model[:4]}{i}"
        run_id = f"manual__{as_of.isoformat()}_{model}_{i}"
        lineage = {
            "as_of": as_of.isoformat(),
            "data_window": [str(as_of - dt.timedelta(days=56)), str(as_of)],
            "training_rows": 12000 + i,
            "feature_service": "learner_risk_v1",
            "feature_views": ["learning_activity", "family_contact"],
            "split": {"train": {"rows": 8400, "positives": 900, "label_rate": 0.107}},
            "airflow_run_id": run_id,
            "reason": "first model" if i == 0 else "drift event drift/" + model,
            "package": "0.1.0",
            "git_revision": "abc1234",
        }
        registry.versions.upsert(
            model,
            version,
            airflow_run_id=run_id,
            status="candidate" if passed else "rejected",
            metrics=_metrics(pr_auc, baseline),
            params={"estimator": "hist_gradient_boosting", "max_depth": 3},
            gate=_gate(passed),
            lineage=lineage,
            reason=lineage["reason"],
            rejection_reason=None if passed else "no_regression.pr_auc: change vs production",
        )
        if passed:
            registry.versions.set_status(
                model, version, "approved", reason="approved by bantay (auto)"
            )
            reference = pd.DataFrame({f: [0.1 * k for k in range(20)] for f in FEATURES})
            promotion.publish(model, version, {"kind": "seeded"}, {"lineage": lineage}, reference)
            promotion.promote(model, version, actor=f"airflow:{run_id}", reason=lineage["reason"])
        ids.append(version)
        runs.append(run_id)
    ids.append(_candidate(registry, model, last_day))
    runs.append(shared_run_id(last_day))
    registry_rows(registry, model, first_day, days, hold_last)
    return Seeded(
        model, *ids, runs=runs, days=[first_day + dt.timedelta(days=d) for d in range(days)]
    )


def shared_run_id(last_day: dt.date) -> str:
    """The run id every model's training DAG gives its run triggered for ``last_day``."""
    return f"manual__{last_day.isoformat()}T00:00:00+00:00"


def _candidate(registry, model: str, last_day: dt.date) -> str:
    """A version that passed the gate and waits for a person (status candidate)."""
    as_of = dt.datetime.combine(last_day, dt.time(), dt.UTC)
    version = f"v{as_of:%Y%m%dT%H%M%S}-{model[:4]}3"
    run_id = shared_run_id(last_day)
    lineage = {
        "as_of": as_of.isoformat(),
        "data_window": [str(as_of - dt.timedelta(days=56)), str(as_of)],
        "training_rows": 12100,
        "airflow_run_id": run_id,
        "reason": "weekly schedule",
    }
    registry.versions.upsert(
        model,
        version,
        airflow_run_id=run_id,
        status="candidate",
        metrics=_metrics(0.54, 0.53),
        params={"estimator": "hist_gradient_boosting", "max_depth": 4},
        gate=_gate(True),
        lineage=lineage,
        reason=lineage["reason"],
    )
    return version


HELD_LAST = "the labels of the drifted period mature on 2026-12-03; retrain then"


def registry_rows(
    registry, model: str, first_day: dt.date, days: int, hold_last: bool = False
) -> None:
    """One drift row a day; days 10..13 from the end drift, the second of them retrains; the
    model's score drifts on those days (0.57..0.73 against 0.1) while only 2 of 4 features do.
    ``hold_last``: the last day drifts too and the labels guard holds its retrain."""
    for d in range(days):
        day = first_day + dt.timedelta(days=d)
        from_end = days - 1 - d
        drifting = 10 <= from_end <= 13 or (hold_last and from_end == 0)
        scores = {
            f: {
                "method": "wasserstein",
                "score": (0.3 if drifting and k < 2 else 0.02 + 0.001 * (d % 7)),
                "threshold": 0.1,
                "drifted": drifting and k < 2,
                "kind": "numerical",
            }
            for k, f in enumerate(FEATURES)
        }
        n = sum(s["drifted"] for s in scores.values())
        decision = "no_action"
        detail = "no drift"
        if drifting:
            decision = "retrain_triggered" if from_end == 12 else "guard_held:persistence"
            detail = "drift confirmed" if from_end == 12 else "persistence: day 1 of 2"
        if hold_last and from_end == 0:
            decision, detail = "guard_held:labels", HELD_LAST + "; evidence: labels to 2026-11-08"
        prediction = {
            "column": "score",
            "method": "wasserstein",
            "score": 0.57 + 0.04 * (d % 5) if drifting else 0.03,
            "threshold": 0.1,
            "drifted": drifting,
        }
        registry.drift.upsert(
            model,
            day,
            verdict="DRIFT" if drifting else "OK",
            drifted_share=n / len(FEATURES),
            n_drifted=n,
            n_features=len(FEATURES),
            decision=decision,
            decision_detail=detail,
            feature_scores=scores,
            airflow_run_id=f"manual__{day.isoformat()}T06:00:00+00:00",
            prediction_drift=prediction,
        )


# The approved version of ``publish_approved``: evaluated against production on the same rows,
# (production, new) per metric, and how far its reference moved study_minutes.
SAME_ROWS = {"pr_auc": (0.53, 0.58), "roc_auc": (0.83, 0.86)}
SHIFT = 1.0


def publish_approved(registry, promotion, model: str, production: str, last_day: dt.date) -> str:
    """A version approved after ``production`` and published, not serving: evaluated against
    production on its own test rows (:data:`SAME_ROWS`), other parameters and feature service,
    and a drift reference whose ``study_minutes`` moved by :data:`SHIFT`."""
    import pandas as pd

    version = f"v{last_day:%Y%m%d}T120000-{model[:4]}9"
    lineage = {
        "as_of": f"{last_day}T12:00:00+00:00",
        "data_window": ["2026-09-27", str(last_day)],
        "fitted": {"since": "2026-09-27T00:00:00+00:00", "until": "2026-11-21T23:59:00+00:00"},
        "feature_service": "learner_risk_v2",
        "compared_with": production,
        "compared_on": {"rows": 2345},
    }
    metrics = {
        "test": {"pr_auc": 0.6, "roc_auc": 0.87, "threshold_at_precision": 0.7},
        "production_on_same_test": {k: v[0] for k, v in SAME_ROWS.items()},
        "candidate_on_compared_rows": {k: v[1] for k, v in SAME_ROWS.items()},
        "slices": {"region": {"north": {"recall": 0.7}}},
    }
    registry.versions.upsert(
        model,
        version,
        airflow_run_id="manual__approved",
        status="candidate",
        metrics=metrics,
        params={"estimator": "hist_gradient_boosting", "max_depth": 6},
        gate=[{"name": "quality.min_pr_auc", "status": "passed", "passed": True, "value": 0.6}],
        lineage=lineage,
        reason="drift event drift/" + model,
    )
    registry.versions.set_status(model, version, "approved", reason="approved by ana")
    reference = pd.DataFrame({f: [0.1 * k for k in range(20)] for f in FEATURES})
    reference["study_minutes"] += SHIFT
    promotion.publish(model, version, {"kind": "seeded"}, {"lineage": lineage}, reference)
    return version

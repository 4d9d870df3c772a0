"""Matured labels judge the production version whichever version served their day: the logged
features are scored again by it (a back-test), never on rows it was fitted on, and memory stays
bounded by the drift sample size."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bantay.monitoring.backtest import backtest
from bantay.monitoring.drift import run_drift
from bantay.monitoring.performance import BACKTEST, BACKTEST_VERSION
from bantay.monitoring.window import labelled_predictions
from bantay.training.lineage import fitted_until
from bantay.training.pipeline import fit_final, predict_scores
from bantay.vocabulary import Verdict
from support.monitoring_frames import (
    CATEGORICAL,
    NUMERICAL,
    learner_config,
    learner_frame,
    one_model_project,
)

MODEL = "learner_risk"
FEATURES = {"numerical": NUMERICAL, "categorical": CATEGORICAL}
LOGREG = {"trial_id": "logreg", "name": "logreg", "estimator": "logistic_regression", "params": {}}
FITTED_UNTIL = "2026-10-20T23:59:00+00:00"
L1, L2 = dt.date(2026, 11, 2), dt.date(2026, 11, 9)  # label observation days, weekly
TODAY = L2 + dt.timedelta(days=14)  # the labels of L2 matured today
N, SAMPLE = 1_500, 500


def _end_of(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, dt.time(23, 59), dt.UTC))


@pytest.fixture(scope="module")
def production():
    """The production version (v2): fitted on rows up to FITTED_UNTIL, with its reference."""
    fitted = fit_final(LOGREG, learner_frame(4_000, seed=1), FEATURES, label_col="at_risk")
    manifest = {
        "version": "v2",
        "features": FEATURES,
        "lineage": {
            "fitted": {"rows": 4_000, "until": FITTED_UNTIL},
            "data_window": ["2026-08-25 23:59:00+00:00", "2026-10-27 23:59:00+00:00"],
        },
    }
    reference = learner_frame(3_000, seed=2)
    reference["score"] = predict_scores(fitted, reference, FEATURES)
    return fitted, manifest, reference


@pytest.fixture
def settings(tmp_path, monkeypatch):
    return one_model_project(tmp_path, monkeypatch, f"    drift: {{sample_size: {SAMPLE}}}\n")


def _served(settings, day: dt.date, version: str, seed: int, labels: str = "fit") -> pd.DataFrame:
    """Write the prediction log of ``day`` as ``version`` served it (its scores are noise: what
    an older version said is not what is judged); return the labels that matured for it.

    ``labels``: "fit" follows the features as the production version learned them; "shifted"
    no longer does (a concept shift).
    """
    frame = learner_frame(N, seed=seed)
    frame["learner_id"] = np.arange(N)
    frame["event_timestamp"] = _end_of(day)
    frame["score"] = np.random.default_rng(seed).random(N)
    frame["model_version"] = version
    frame["observed"] = True
    if labels == "shifted":
        frame["at_risk"] = np.random.default_rng(seed + 1).binomial(1, 0.2, N)
    path = settings.layout.prediction_path(MODEL, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.drop(columns="at_risk").to_parquet(path, index=False)
    matured = pd.Timestamp(day + dt.timedelta(days=14))
    return frame[["learner_id", "event_timestamp", "at_risk"]].assign(_matured=matured)


def _window(fitted) -> pd.DataFrame:
    """The last week of the prediction log as the production version scored it: no drift."""
    frames = []
    for i in range(7):
        day = TODAY - dt.timedelta(days=6 - i)
        f = learner_frame(N, seed=900 + i)
        f["event_timestamp"] = _end_of(day)
        f["score"] = predict_scores(fitted, f, FEATURES)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def test_labels_join_the_rows_of_every_version_that_served_and_stay_bounded(settings) -> None:
    labels = pd.concat([_served(settings, L1, "v1", 10), _served(settings, L2, "v2", 20)])

    rows = labelled_predictions(settings.layout, settings.model(MODEL), labels)

    assert set(rows["model_version"]) == {"v1", "v2"}
    per_day = rows["event_timestamp"].dt.date.value_counts()
    assert per_day.to_dict() == {L1: SAMPLE, L2: SAMPLE}  # N rows each, sampled
    assert rows["at_risk"].notna().all() and "observed" in rows.columns


def test_the_production_version_is_judged_on_labels_of_days_it_never_served(
    settings, production
) -> None:
    fitted, manifest, reference = production
    cfg = learner_config()
    # Each read before the next write replaces the day's log.
    healthy = labelled_predictions(
        settings.layout, settings.model(MODEL), _served(settings, L1, "v1", 30)
    )
    shifted = labelled_predictions(
        settings.layout, settings.model(MODEL), _served(settings, L1, "v1", 40, "shifted")
    )
    window = _window(fitted)

    fine = run_drift(
        reference, window, cfg, day=TODAY, labelled=backtest(fitted, manifest, healthy)
    )
    drop = run_drift(
        reference, window, cfg, day=TODAY, labelled=backtest(fitted, manifest, shifted)
    )
    served = run_drift(reference, window, cfg, day=TODAY, labelled=healthy)

    assert fine.verdict is Verdict.OK and fine.performance.version == "v2"
    assert drop.verdict is Verdict.PERFORMANCE
    p = drop.performance
    assert (p.version, p.labelled_day, p.rows) == ("v2", str(L1), SAMPLE)
    assert p.low > p.tolerance
    # Judging what v1 served instead would blame v2 for v1's scores.
    assert served.verdict is Verdict.PERFORMANCE and served.performance.version == "v1"


def test_the_back_test_scores_the_logged_features_with_the_production_version(
    settings, production
) -> None:
    fitted, manifest, _ = production
    rows = labelled_predictions(
        settings.layout, settings.model(MODEL), _served(settings, L1, "v1", 50)
    )

    scored = backtest(fitted, manifest, rows)

    expected = predict_scores(fitted, rows, FEATURES)
    np.testing.assert_allclose(scored[BACKTEST].to_numpy(), expected)
    assert set(scored[BACKTEST_VERSION]) == {"v2"} and set(scored["model_version"]) == {"v1"}
    assert not np.allclose(scored[BACKTEST], scored["score"])  # the served scores stay as served


def test_rows_the_version_was_fitted_on_are_no_evidence_for_it(settings, production) -> None:
    fitted, manifest, _ = production
    labels = pd.concat([_served(settings, L1, "v1", 60), _served(settings, L2, "v2", 70)])
    rows = labelled_predictions(settings.layout, settings.model(MODEL), labels)
    until_l1 = _end_of(L1).isoformat()
    fitted_on_l1 = {**manifest, "lineage": {"fitted": {"rows": 1, "until": until_l1}}}
    window_to_l1 = {**manifest, "lineage": {"data_window": ["2026-09-01", str(_end_of(L1))]}}
    no_lineage = {**manifest, "lineage": {}}

    for version in (fitted_on_l1, window_to_l1):
        kept = backtest(fitted, version, rows)
        assert set(kept["event_timestamp"].dt.date) == {L2}, version["lineage"]
    assert set(backtest(fitted, no_lineage, rows)["event_timestamp"].dt.date) == {L1, L2}
    fitted_on_all = {**manifest, "lineage": {"fitted": {"rows": 1, "until": _end_of(L2)}}}
    assert backtest(fitted, fitted_on_all, rows) is None


def test_the_end_of_fitted_data_prefers_the_fitted_rows_over_the_data_window(production) -> None:
    _, manifest, _ = production

    assert fitted_until(manifest) == pd.Timestamp(FITTED_UNTIL)
    assert fitted_until({"lineage": {"data_window": ["a", "2026-10-27 23:59:00"]}}) == (
        pd.Timestamp("2026-10-27 23:59:00", tz="UTC")
    )
    assert fitted_until({"version": "v0"}) is None


def test_an_unreadable_end_of_fitted_data_names_the_version_and_the_fix() -> None:
    manifest = {"version": "v9", "lineage": {"fitted": {"until": "last tuesday"}}}

    with pytest.raises(ValueError, match=r"'v9'.*'last tuesday'.*republish the version"):
        fitted_until(manifest)


def test_no_matured_labels_means_nothing_to_judge(settings, production) -> None:
    fitted, manifest, _ = production
    empty = pd.DataFrame(columns=["learner_id", "event_timestamp", "at_risk", "_matured"])

    assert labelled_predictions(settings.layout, settings.model(MODEL), empty) is None
    assert backtest(fitted, manifest, None) is None

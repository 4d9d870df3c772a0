"""How a drift episode ends: inputs that moved while quality holds are not retrained on (a person
may re-baseline), and the first quiet day after a drift says whether the model that serves
answered it. Drift results, registry rows and manifests are small stand-ins with the fields the
decisions read."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from bantay.monitoring.guards import DayRecord, decide_retrain
from bantay.monitoring.results import PerformanceCheck
from bantay.monitoring.retrain_inputs import answered, quality_holds
from bantay.notify.wording import decision_phrase, what_to_do
from bantay.settings.drift import GuardConfig
from bantay.vocabulary import Action, Verdict

DAY = dt.date(2026, 11, 20)
BEGAN = DAY - dt.timedelta(days=16)


def _performance(drop: float, labelled: dt.date, degraded: bool = False) -> PerformanceCheck:
    return PerformanceCheck(
        metric="roc_auc",
        reference=0.82,
        current=0.82 - drop,
        drop=drop,
        low=drop - 0.02,
        high=drop + 0.02,
        tolerance=0.02,
        degraded=degraded,
        labelled_day=labelled.isoformat(),
        rows=1980,
        reference_rows=4000,
    )


def _result(verdict: str, performance: PerformanceCheck | None = None) -> SimpleNamespace:
    return SimpleNamespace(verdict=Verdict(verdict), performance=performance)


def test_quality_holds_only_on_labels_observed_since_the_drift_began() -> None:
    holds = quality_holds(_result("DRIFT", _performance(0.005, BEGAN)), BEGAN, 0.02)
    assert holds and "1,980 labels observed" in holds and BEGAN.isoformat() in holds
    before = BEGAN - dt.timedelta(days=7)
    assert quality_holds(_result("DRIFT", _performance(0.0, before)), BEGAN, 0.02) is None
    assert quality_holds(_result("DRIFT", _performance(0.03, BEGAN)), BEGAN, 0.02) is None
    assert quality_holds(_result("DRIFT", _performance(0.0, BEGAN, True)), BEGAN, 0.02) is None
    assert quality_holds(_result("DRIFT", None), BEGAN, 0.02) is None
    assert quality_holds(_result("DRIFT", _performance(0.0, BEGAN)), None, 0.02) is None


def _history(days: int) -> list[DayRecord]:
    return [DayRecord(DAY - dt.timedelta(days=i), "DRIFT", "x") for i in range(days, 0, -1)]


def test_a_lasting_shift_with_quality_intact_is_not_retrained_on() -> None:
    holds = quality_holds(_result("DRIFT", _performance(0.0, BEGAN)), BEGAN, 0.02)
    decision = decide_retrain(Verdict.DRIFT, DAY, _history(16), GuardConfig(), quality_holds=holds)
    assert decision.action is Action.HELD_QUALITY
    assert "quality holds" in decision.reason and "rebaseline" in decision.reason
    assert decision_phrase(decision, Verdict.DRIFT) == "inputs moved, quality holds"
    said = what_to_do(_result("DRIFT"), decision)
    assert "bantay rebaseline" in said and "1,980 labels" in said
    # Without the measurement the drift is retrained on, as before.
    plain = decide_retrain(Verdict.DRIFT, DAY, _history(16), GuardConfig())
    assert plain.triggers_retrain
    # A quality drop is never overridden: PERFORMANCE retrains.
    drop = decide_retrain(
        Verdict.PERFORMANCE, DAY, _history(16), GuardConfig(), quality_holds=holds
    )
    assert drop.triggers_retrain


def _row(day: dt.date, verdict: str) -> SimpleNamespace:
    return SimpleNamespace(report_date=day, verdict=verdict, decision="x", decision_detail="")


def _manifest(rows_after: int, until: dt.date) -> dict:
    fitted = {
        "rows_after_drift": rows_after,
        "drift_since": BEGAN.isoformat(),
        "until": f"{until.isoformat()}T23:59:00+00:00",
    }
    return {"version": "v2", "lineage": {"fitted": fitted}}


def test_the_first_quiet_day_says_the_new_model_answered_the_drift() -> None:
    history = [_row(BEGAN - dt.timedelta(days=1), "OK")] + [
        _row(BEGAN + dt.timedelta(days=i), "DRIFT") for i in range((DAY - BEGAN).days)
    ]
    quiet = _result("OK")
    done = answered(quiet, history, DAY, _manifest(2000, BEGAN), None)
    assert done is not None and done.action is Action.DRIFT_ANSWERED
    assert "v2 was fitted on 2,000 rows observed since" in done.reason
    assert what_to_do(quiet, done).startswith("Nothing to do: the drift that began on")
    # A model fitted on no drifted rows did not answer it: the alarm is only quieter.
    assert answered(quiet, history, DAY, _manifest(0, BEGAN - dt.timedelta(days=3)), None) is None
    # Still drifting: nothing is answered.
    assert answered(_result("DRIFT"), history, DAY, _manifest(2000, BEGAN), None) is None
    # A person's re-baseline since the drift began answers it too, by name.
    baseline = SimpleNamespace(
        last_day=DAY - dt.timedelta(days=1),
        actor="ana",
        at=dt.datetime(2026, 11, 19),
        reason="new term",
    )
    by_person = answered(quiet, history, DAY, _manifest(0, BEGAN - dt.timedelta(days=3)), baseline)
    assert by_person is not None and "ana re-baselined v2" in by_person.reason


def test_a_short_reference_compares_a_school_day_with_school_days() -> None:
    """A reference of Sunday to Tuesday (a version that answered a drift three days in): a
    Wednesday is judged against Monday and Tuesday, never a mix holding the weekend."""
    import pandas as pd

    from bantay.monitoring.frames import reference_for
    from bantay.settings.drift import DriftConfig

    cfg = DriftConfig()
    days = [dt.date(2026, 11, 29) + dt.timedelta(days=i) for i in range(3)]  # Sun, Mon, Tue
    stamps = [pd.Timestamp(d, tz="UTC") for d in days for _ in range(cfg.min_rows)]
    ref = pd.DataFrame({"event_timestamp": stamps, "x": range(len(stamps))})
    wednesday = reference_for(ref, dt.date(2026, 12, 2), cfg)
    picked = set(pd.to_datetime(wednesday["event_timestamp"]).dt.date)
    assert picked == set(days[1:])
    assert set(pd.to_datetime(reference_for(ref, days[1], cfg)["event_timestamp"]).dt.date) == {
        days[1]
    }
    saturday = reference_for(ref, dt.date(2026, 12, 5), cfg)
    assert set(pd.to_datetime(saturday["event_timestamp"]).dt.date) == {days[0]}


def test_a_concept_drift_is_answered_by_a_version_fitted_on_its_evidence() -> None:
    """PERFORMANCE rests on labels observed before the report days: a version fitted on rows
    from that observation day on answers it, though it never saw a row of the report days."""
    evidence = DAY - dt.timedelta(days=18)
    history = [_row(DAY - dt.timedelta(days=5), "OK")] + [
        SimpleNamespace(
            report_date=DAY - dt.timedelta(days=i),
            verdict="PERFORMANCE",
            decision="x",
            decision_detail="",
            evidence_day=evidence,
        )
        for i in range(4, 0, -1)
    ]
    manifest = _manifest(1900, evidence)
    manifest["lineage"]["fitted"]["drift_since"] = evidence.isoformat()
    done = answered(_result("OK"), history, DAY, manifest, None)
    assert done is not None and done.action is Action.DRIFT_ANSWERED
    assert f"began on {evidence}" in done.reason


def test_without_labelled_reference_rows_quality_is_judged_against_the_held_out_test() -> None:
    """A reference of days whose labels had not matured at training: the version's held-out
    ROC AUC (from its manifest) is the yardstick, so the check is never blind."""
    import numpy as np
    import pandas as pd

    from bantay.monitoring.backtest import held_out_quality
    from bantay.monitoring.performance import performance_check
    from bantay.settings.drift import DriftConfig

    manifest = {
        "metrics": {"roc_auc": 0.84},
        "lineage": {"split": {"test": {"rows": 2400, "positives": 360}}},
    }
    assert held_out_quality(manifest) == (0.84, 360, 2040)
    assert held_out_quality({"metrics": {}}) is None
    rng = np.random.default_rng(3)
    y = rng.random(3000) < 0.15
    noise = rng.random(3000)  # scores that know nothing: a broken concept
    labelled = pd.DataFrame(
        {"event_timestamp": pd.Timestamp(DAY, tz="UTC"), "at_risk": y.astype(int), "score": noise}
    )
    unlabelled_ref = pd.DataFrame({"score": rng.random(100), "at_risk": np.nan})
    cfg = DriftConfig(target_column="at_risk")
    args = (unlabelled_ref, labelled, "at_risk", "score", cfg)
    assert performance_check(*args, tolerance=0.02) is None
    check = performance_check(*args, tolerance=0.02, yardstick=held_out_quality(manifest))
    assert check is not None and check.degraded and check.reference == 0.84


def test_rows_another_version_scored_are_scored_again_by_the_one_that_serves() -> None:
    """A day re-checked after a promotion or a rollback compares the serving model's scores with
    its own reference, not another version's (the model is a stand-in with predict_proba)."""
    import numpy as np
    import pandas as pd

    from bantay.monitoring.backtest import served_by

    class Model:
        classes_ = np.array([0, 1])

        def predict_proba(self, x):
            p = np.clip(x["study_minutes"].to_numpy() / 1000, 0, 1)
            return np.column_stack([1 - p, p])

    window = pd.DataFrame(
        {"study_minutes": [100.0, 200.0, 300.0], "score": [0.9, 0.9, 0.9]}
    ).assign(model_version=["v1", "v2", "v1"])
    manifest = {"version": "v2", "features": {"numerical": ["study_minutes"], "categorical": []}}
    out = served_by(Model(), manifest, window)
    assert out["score"].tolist() == [0.1, 0.9, 0.3]
    assert set(out["model_version"]) == {"v2"}
    assert window["score"].tolist() == [0.9, 0.9, 0.9]  # the log itself is left as it was


def test_rows_scored_again_carry_the_serving_versions_attributions() -> None:
    """Attribution drift compares the window with the serving version's reference: rows another
    version scored get this version's attributions (a real fitted pipeline), or none when it
    has no explanation; its own rows keep what was logged."""
    import numpy as np
    import pandas as pd

    from bantay.monitoring.backtest import served_by
    from bantay.training.explain import Explainer, version_explanation
    from bantay.training.pipeline import fit_final

    rng = np.random.default_rng(4)
    n = 400
    rows = pd.DataFrame(
        {
            "study_minutes": rng.normal(90, 20, n),
            "attendance_rate": rng.uniform(0.6, 1.0, n),
            "region": rng.choice(["ncr", "luzon"], n),
        }
    )
    rows["at_risk"] = (rng.random(n) < 1 / (1 + np.exp((rows["study_minutes"] - 80) / 10))).astype(
        int
    )
    features = {"numerical": ["study_minutes", "attendance_rate"], "categorical": ["region"]}
    trial = {"trial_id": "lr", "name": "lr", "estimator": "logistic_regression", "params": {}}
    fitted = fit_final(trial, rows, features, label_col="at_risk")
    names = [*features["numerical"], *features["categorical"]]
    explanation = version_explanation(fitted, rows, rows, names)
    window = (
        rows.drop(columns="at_risk")
        .head(6)
        .assign(
            score=0.5,
            model_version=["v1", "v2", "v1", "v2", "v1", "v2"],
            attr_study_minutes=9.0,
            attr_attendance_rate=9.0,
            attr_region=9.0,
            attr_base=9.0,
        )
    )
    manifest = {"version": "v2", "features": features, "explanation": explanation}
    out = served_by(fitted, manifest, window)
    again = (window["model_version"] == "v1").to_numpy()
    explainer = Explainer(fitted, names, baseline=explanation["baseline"])
    expected = explainer.explain(explainer.transform(window[again]), with_margin=False)
    assert np.allclose(
        out.loc[again, ["attr_study_minutes", "attr_attendance_rate", "attr_region"]].to_numpy(),
        expected.values,
        atol=1e-6,
    )
    assert (out.loc[~again, "attr_study_minutes"] == 9.0).all()  # its own, as logged
    bare = served_by(fitted, {"version": "v2", "features": features}, window)
    assert bare.loc[again, "attr_study_minutes"].isna().all()
    assert (bare.loc[~again, "attr_study_minutes"] == 9.0).all()

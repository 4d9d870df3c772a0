"""Synthetic learner-risk frames with known ground truth for drift and e-mail tests.

Shapes and value ranges follow the shipped schema (12 features of ``learner_risk_v1``, ``score``,
``at_risk``); distributions are plausible, independent of the project's simulator, so these tests do not depend
on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from bantay.monitoring.results import DriftResult
from bantay.settings.drift import DriftConfig
from bantay.simulate import catalogue as schema
from bantay.vocabulary import Verdict

NUMERICAL = list(schema.NUMERICAL)
CATEGORICAL = list(schema.CATEGORICAL)
FEATURES = NUMERICAL + CATEGORICAL
VALID_RANGES = {c: r for c, r in schema.RANGES.items() if c in NUMERICAL}


def learner_config(**overrides: object) -> DriftConfig:
    """The drift configuration the shipped model would use."""
    base: dict[str, object] = {
        "numerical_columns": NUMERICAL,
        "categorical_columns": CATEGORICAL,
        "valid_ranges": VALID_RANGES,
        "allowed_categories": {"region": list(schema.REGIONS)},
    }
    return DriftConfig(**{**base, **overrides})


def learner_frame(
    n: int,
    seed: int,
    *,
    shift: Mapping[str, float] | None = None,
    start: str = "2026-11-01",
) -> pd.DataFrame:
    """``n`` learners' daily rows; ``shift`` moves a numeric column by k of its std (clipped)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "learner_id": rng.integers(1_000_000_000, 2_000_000_000, n, dtype=np.int64),
            "event_timestamp": pd.Timestamp(start, tz="UTC")
            + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "attendance_rate": rng.beta(8, 2, n),
            "assignment_completion": rng.beta(6, 2, n),
            "quiz_score_avg": np.clip(rng.normal(72, 12, n), 0, 100),
            "study_minutes": np.clip(rng.gamma(2.0, 45.0, n), 0, 600),
            "late_submissions": rng.poisson(1.2, n).astype(np.int64),
            "calls_with_parent": rng.poisson(2.0, n).astype(np.int64),
            "messages_with_parent": rng.poisson(6.0, n).astype(np.int64),
            "days_since_last_contact": np.clip(rng.geometric(0.25, n) - 1, 0, 365).astype(np.int64),
            "support_on_time_ratio": rng.beta(5, 2, n),
            "grade_level": rng.integers(1, 13, n).astype(np.int64),
            "region": rng.choice(
                ["ncr", "luzon", "visayas", "mindanao"], n, p=[0.3, 0.3, 0.2, 0.2]
            ),
            "parent_abroad": rng.binomial(1, 0.6, n).astype(np.int64),
        }
    )
    for col, k in (shift or {}).items():
        lo, hi = VALID_RANGES.get(col, (None, None))
        moved = df[col] + k * df[col].std()
        df[col] = moved.clip(lower=lo, upper=hi).astype(df[col].dtype)
    logit = (
        -1.0
        - 4.0 * (df["attendance_rate"] - 0.8)
        - 3.0 * (df["assignment_completion"] - 0.75)
        - 0.03 * (df["quiz_score_avg"] - 72)
        + 0.25 * (df["late_submissions"] - 1.2)
        + 0.05 * (df["days_since_last_contact"] - 3)
        - 0.6
    )
    df["score"] = 1 / (1 + np.exp(-logit))
    df["at_risk"] = rng.binomial(1, df["score"].to_numpy()).astype(np.int64)
    df["model_version"] = "v20261101-test"
    return df


def quiet_result(verdict: Verdict, day: dt.date) -> DriftResult:
    """A drift result of ``day`` with nothing drifted and no findings, under ``verdict``."""
    return DriftResult(
        features=[],
        drifted_share=0.0,
        n_drifted=0,
        n_features=3,
        dataset_drift=False,
        drift_share_threshold=0.3,
        prediction=None,
        data_quality=[],
        classification=None,
        reference_rows=1000,
        current_rows=1000,
        reference_rows_total=1000,
        current_rows_total=1000,
        verdict=verdict,
        day=str(day),
    )


def one_model_project(tmp_path, monkeypatch, model_yaml: str = ""):
    """Settings of a project with ``learner_risk`` alone, its data under ``tmp_path``;
    ``model_yaml``: more of the model's settings, as indented YAML lines."""
    from bantay.settings import load_settings

    config = tmp_path / "bantay.yaml"
    config.write_text(
        "project: bantay\nmodels:\n  - name: learner_risk\n    feature_service: learner_risk_v1\n"
        f"    label: at_risk\n{model_yaml}"
    )
    monkeypatch.setenv("BANTAY_CONFIG", str(config))
    monkeypatch.setenv("BANTAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANTAY_HOME", str(tmp_path / "home"))
    return load_settings()

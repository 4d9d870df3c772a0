"""Evidently's report of the newest day against the reference, built with bantay's methods and
thresholds, and the per-column flags read back from its snapshot."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift
from evidently.presets import DataDriftPreset

from bantay.settings.drift import DriftConfig


def drift_report(
    ref: pd.DataFrame, cur: pd.DataFrame, cfg: DriftConfig, columns: list[str], name: str | None
) -> Any:
    """Evidently's report of the newest day against the reference, with bantay's methods."""
    pred = cfg.prediction_column
    with_prediction = bool(pred and pred in columns)
    features = [c for c in columns if c != pred]
    num = [c for c in features if cfg.kind(c) == "numerical"]
    cat = [c for c in features if cfg.kind(c) == "categorical"]
    thresholds = {c: t for c in features if (t := cfg.threshold_for(c)) is not None}
    metrics: list[Any] = [
        DataDriftPreset(
            columns=features,
            num_method=cfg.numerical_method,
            cat_method=cfg.categorical_method,
            per_column_method={c: cfg.method_for(c) for c in features},
            per_column_threshold=thresholds,
            drift_share=cfg.drift_share,
        )
    ]
    if with_prediction:
        num.append(pred)
        metrics.append(
            ValueDrift(column=pred, method=cfg.prediction_method, threshold=cfg.threshold_for(pred))
        )
    definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
    keep = [*num, *cat]
    report = Report(metrics, include_tests=True)
    with warnings.catch_warnings():
        # evidently 0.7's legacy metrics trip pandas' downcasting FutureWarning on every run
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"evidently\.")
        return report.run(
            current_data=Dataset.from_pandas(cur[keep], data_definition=definition),
            reference_data=Dataset.from_pandas(ref[keep], data_definition=definition),
            name=name,
        )


def evidently_flags(snapshot_dict: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per column, Evidently's ValueDrift score and its drifted flag (its test FAILs on drift)."""
    out: dict[str, dict[str, Any]] = {}
    for metric in snapshot_dict.get("metrics", []):
        config = metric.get("config") or {}
        if str(config.get("type", "")).endswith(":ValueDrift"):
            out.setdefault(config["column"], {})["score"] = float(metric["value"])
    for test in snapshot_dict.get("tests", []):
        params = (test.get("metric_config") or {}).get("params") or {}
        if str(params.get("type", "")).endswith(":ValueDrift") and "column" in params:
            status = str(getattr(test["status"], "value", test["status"]))
            out.setdefault(params["column"], {})["drifted"] = status == "FAIL"
    return out

"""The validation gate's thresholds: the ``gate:`` block of a model in ``bantay.yaml``.

Light on purpose (pydantic only): settings are read where the scheduler parses DAG files.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GateConfig(BaseModel):
    """Thresholds of the gate; built from the model's ``gate:`` block in bantay.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_roc_auc: float = Field(
        0.70, ge=0.0, le=1.0, description="ROC AUC a candidate must reach on the test set"
    )
    min_pr_auc: float = Field(
        0.30, ge=0.0, le=1.0, description="PR AUC a candidate must reach on the test set"
    )
    primary_metric: Literal["pr_auc", "roc_auc"] = Field(
        "pr_auc", description="the metric compared with production"
    )
    max_regression: float = Field(
        0.02, ge=0.0, le=1.0, description="allowed drop of the primary metric vs production"
    )
    max_recall_gap: float = Field(
        0.25, ge=0.0, le=1.0, description="largest recall gap allowed between slices"
    )
    # 0 applies the bound to the raw gap. Slice recalls on a few dozen positives carry sampling
    # error near 0.1, so z > 0 (e.g. 1.645) fails only gaps that exceed the bound beyond noise.
    recall_gap_z: float = Field(
        0.0, ge=0.0, description="0: bound the raw gap; > 0: fail only gaps beyond sampling noise"
    )
    min_slice_positives: int = Field(
        5, ge=1, description="slices with fewer positives are not judged"
    )
    min_slice_rows: int = Field(
        50, ge=1, description="slices with fewer test rows are reported too small, never fair"
    )
    # The candidate's recall gap in each slice against the champion's, on the same test rows and
    # at the same precision target: failed only when the low end of the paired bootstrap
    # interval of the change lies beyond this tolerance (worse beyond sampling noise).
    max_fairness_regression: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="how much wider than the champion's a slice's recall gap may be",
    )
    fairness_n_boot: int = Field(
        200, ge=20, le=5_000, description="bootstrap resamples of the slice recalls at the gate"
    )
    fairness_confidence: float = Field(
        0.95, gt=0.5, lt=1.0, description="confidence of their intervals"
    )
    fairness_seed: int = Field(7, description="seed of that bootstrap")
    min_rows: int = Field(1000, ge=1, description="test rows a candidate must be evaluated on")
    label_rate_bounds: tuple[float, float] = Field(
        (0.02, 0.50), description="[low, high] share of positive labels in the training set"
    )
    min_prediction_std: float = Field(
        0.01, ge=0.0, description="scores must vary at least this much"
    )
    # The precision at which recall metrics are read; carried so the report states it.
    target_precision: float = Field(
        0.5, gt=0.0, le=1.0, description="precision at which recall is read"
    )

    @model_validator(mode="after")
    def _bounds_ordered(self) -> GateConfig:
        low, high = self.label_rate_bounds
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(
                f"label_rate_bounds must be [low, high] with 0 <= low < high <= 1, got "
                f"{list(self.label_rate_bounds)}; fix the gate's label_rate_bounds in bantay.yaml."
            )
        return self

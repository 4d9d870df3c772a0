"""How one model's drift is judged: statistics, thresholds, data-quality limits, label-based
performance checks and retrain guards. ``bantay.yaml``'s ``models[].drift`` block *is* a
:class:`DriftConfig` (``bantay.settings`` uses it directly), validated when configuration loads.

Drift methods are Evidently's, and the drifted flag and default thresholds are Evidently's own.
Validation here is pure (names, columns, ranges); whether Evidently knows a configured method,
for that column kind, is checked by ``bantay.monitoring.stattests.check_methods`` (the drift task
and ``bantay config check`` call it): importing Evidently costs seconds, and configuration loads
where DAG files are parsed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bantay.settings.feeds import ColumnSpec, default_feeds

log = logging.getLogger(__name__)

ColumnKind = Literal["numerical", "categorical"]
Issue = Literal[
    "nulls", "frozen", "stuck", "unit_change", "new_category", "out_of_range", "too_few_rows"
]


class GuardConfig(BaseModel):
    """Retrain guards: drift must persist, retrains cool down, and are rate limited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    persistence_days: int = Field(2, ge=1, le=30, description="DRIFT on N days in a row")
    cooldown_days: int = Field(
        7, ge=0, le=90, description="days after a drift-triggered or promoted retrain"
    )
    max_retrains_per_7d: int = Field(
        2, ge=0, description="drift-triggered and promoted retrains per 7 days"
    )


class FairnessConfig(BaseModel):
    """How the daily check watches fairness across the model's ``slices`` (the ``fairness:``
    block of ``drift:``): flag rates from the day's scores, recall on matured labels.

    Example (YAML)::

        drift:
          fairness: {min_slice_rows: 100, max_recall_gap: 0.2}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_slice_rows: int = Field(
        50, ge=1, description="a slice with fewer learners is reported too small, never fair"
    )
    min_slice_positives: int = Field(
        20, ge=1, description="a slice with fewer matured positives has no recall judged"
    )
    min_flag_ratio: float = Field(
        0.8, gt=0, le=1, description="flag rate against the most-flagged slice (four-fifths)"
    )
    max_recall_gap: float | None = Field(
        None, ge=0, le=1, description="allowed recall gap; null: the gate's max_recall_gap"
    )
    label_days: int = Field(
        7,
        ge=1,
        le=90,
        description="days of labels, up to the newest labelled day, the recall gap is judged on",
    )
    n_boot: int = Field(200, ge=20, le=5_000, description="bootstrap resamples of the recall gap")
    confidence: float = Field(
        0.95,
        gt=0.5,
        lt=1,
        description="confidence of the recall intervals and of the gap's one-sided bounds",
    )
    seed: int = Field(7, description="seed of the bootstrap")
    min_attribution_ndcg: float = Field(
        0.9, gt=0, le=1, description="NDCG of today's importance ranking below this alarms"
    )
    attribution_change: float = Field(
        0.5, gt=0, description="relative change in a feature's mean |attribution| called large"
    )
    max_attribution_shift: float = Field(
        0.02,
        gt=0,
        le=1,
        description="share of all attribution moved between features (total variation, over "
        "every scored learner or among the flagged) against the drift reference that alarms",
    )
    min_attribution_rows: int = Field(
        500, ge=1, description="fewer scored (or flagged) rows in the window: no share shift judged"
    )


def _default_columns() -> dict[str, ColumnSpec]:
    """The default feeds' feature columns: what a drift block built on its own watches until
    :meth:`DriftConfig.for_features` narrows it to a version's features."""
    return {n: c for f in default_feeds() if not f.is_labels for n, c in f.columns.items()}


def _kind_of(columns: Mapping[str, ColumnSpec], categorical: bool) -> list[str]:
    return [n for n, c in columns.items() if c.is_categorical == categorical]


def _declared_ranges(
    columns: Mapping[str, ColumnSpec], numerical: list[str]
) -> dict[str, tuple[float | None, float | None]]:
    return {
        c: (columns[c].min, columns[c].max)
        for c in numerical
        if c in columns and (columns[c].min is not None or columns[c].max is not None)
    }


def _declared_categories(
    columns: Mapping[str, ColumnSpec], categorical: list[str]
) -> dict[str, list[Any]]:
    return {
        c: list(columns[c].values or [])
        for c in categorical
        if c in columns and columns[c].values is not None
    }


class DriftConfig(BaseModel):
    """How one model's drift is judged (the ``drift:`` block of a model in ``bantay.yaml``).

    Example (YAML)::

        drift:
          numerical_threshold: 0.1      # normalised Wasserstein distance of one day
          per_column_method: {grade_level: psi}
          guards: {persistence_days: 2, cooldown_days: 7}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    numerical_columns: list[str] = Field(
        default_factory=lambda: _kind_of(_default_columns(), categorical=False),
        description="numerical features watched (default: the version's)",
    )
    categorical_columns: list[str] = Field(
        default_factory=lambda: _kind_of(_default_columns(), categorical=True),
        description="categorical features watched (default: the version's)",
    )
    prediction_column: str | None = Field("score", description="the score column watched, or null")
    target_column: str | None = Field(None, description="label column; null: the model's label")
    label_join_keys: list[str] = Field(
        default_factory=lambda: ["learner_id", "event_timestamp"],
        description="keys joining labels to logged predictions",
    )

    numerical_method: str = Field(
        "wasserstein", description="Evidently drift method of numerical columns"
    )
    numerical_threshold: float | None = Field(
        0.1, gt=0, description="its threshold; null: the method's default"
    )
    categorical_method: str = Field(
        "jensenshannon", description="Evidently drift method of categorical columns"
    )
    categorical_threshold: float | None = Field(
        0.05, gt=0, description="its threshold; null: the method's default"
    )
    prediction_method: str = Field("wasserstein", description="Evidently drift method of the score")
    prediction_threshold: float | None = Field(
        0.1, gt=0, description="its threshold; null: the method's default"
    )
    per_column_method: dict[str, str] = Field(
        default_factory=dict, description="column: method, overriding the kind's method"
    )
    per_column_threshold: dict[str, float] = Field(
        default_factory=dict, description="column: threshold"
    )
    drift_share: float = Field(
        0.3, gt=0, le=1, description="share of drifted features called widespread (severity)"
    )

    window_days: int = Field(7, ge=1, le=30, description="the context view: last N days")
    reference_days: int = Field(14, ge=7, le=90, description="days in the reference sample")
    same_weekday: bool = Field(True, description="judge the newest day against its weekday")
    sample_size: int = Field(
        20_000,
        ge=500,
        le=1_000_000,
        description="rows of the reference and of each day, sampled with seed",
    )
    seed: int = Field(42, description="seed of that sample")
    min_rows: int = Field(500, ge=1, description="fewer rows on a day cannot be judged")

    # data quality (a broken feed -> DATA QUALITY, never a retrain)
    null_share_increase: float = Field(
        0.1, gt=0, le=1, description="rise in a column's null share called a quality issue"
    )
    frozen_share: float = Field(0.8, gt=0, le=1, description="one value covers this share")
    stuck_share: float = Field(
        0.8, gt=0, le=1, description="of the learners that normally change, share unchanged"
    )
    stuck_reference_max: float = Field(
        0.8,
        gt=0,
        le=1,
        description="columns unchanged for more than this share in the reference are not judged stuck",
    )
    unit_change_factor: float = Field(10.0, gt=1, description="median ratio called a unit change")
    out_of_range_share: float = Field(
        0.01, ge=0, le=1, description="share of values outside valid_ranges called a quality issue"
    )
    new_category_share: float = Field(
        0.01, ge=0, le=1, description="share of unseen categories called a quality issue"
    )
    valid_ranges: dict[str, tuple[float | None, float | None]] = Field(
        default_factory=dict,
        description="column: [low, high] (default: the min/max its feed declares)",
    )
    allowed_categories: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="column: allowed values (default: the values its feed declares)",
    )

    # performance on matured labels
    label_lookback_days: int = Field(
        42, ge=7, le=365, description="days of matured labels the performance check reads"
    )
    min_labelled_rows: int = Field(200, ge=20, description="fewer labelled rows cannot be judged")
    performance_confidence: float = Field(
        0.95, gt=0.5, lt=1, description="confidence of the performance drop test"
    )

    guards: GuardConfig = Field(default_factory=GuardConfig)
    fairness: FairnessConfig = Field(default_factory=FairnessConfig)

    @property
    def target(self) -> str:
        """The label column (the model's label unless set here)."""
        return self.target_column or "at_risk"

    @property
    def features(self) -> list[str]:
        return [*self.numerical_columns, *self.categorical_columns]

    def for_features(
        self,
        features: Mapping[str, list[str]] | None,
        columns: Mapping[str, ColumnSpec] | None = None,
    ) -> DriftConfig:
        """This config watching a version's features (from its manifest), so every model is
        watched on its own features; columns set explicitly in bantay.yaml narrow them further.
        Valid ranges and allowed categories not set here come from the feeds' declarations
        (``columns``: the model's declared columns, ``ModelSettings.columns``)."""
        if not features:
            return self
        num = list(features.get("numerical", []))
        cat = list(features.get("categorical", []))
        self._warn_unwatched(set(num) | set(cat))
        if "numerical_columns" in self.model_fields_set:
            num = [c for c in num if c in self.numerical_columns]
        if "categorical_columns" in self.model_fields_set:
            cat = [c for c in cat if c in self.categorical_columns]
        keep = set(num) | set(cat)
        given = self.model_fields_set
        ranges = self.valid_ranges if columns is None else _declared_ranges(columns, num)
        categories = (
            self.allowed_categories if columns is None else _declared_categories(columns, cat)
        )
        if "valid_ranges" in given:
            ranges = {**ranges, **self.valid_ranges}
        if "allowed_categories" in given:
            categories = {**categories, **self.allowed_categories}
        data = self.model_dump()
        data.update(
            numerical_columns=num,
            categorical_columns=cat,
            per_column_method={k: v for k, v in self.per_column_method.items() if k in keep},
            per_column_threshold={k: v for k, v in self.per_column_threshold.items() if k in keep},
            valid_ranges={k: v for k, v in ranges.items() if k in num},
            allowed_categories={k: v for k, v in categories.items() if k in cat},
        )
        return DriftConfig.model_validate(data)

    def _warn_unwatched(self, features: set[str]) -> None:
        """Columns set in bantay.yaml that the version does not have are not watched: say so
        (``bantay config check`` reports them against the feature service before a run)."""
        for key in ("numerical_columns", "categorical_columns"):
            if key in self.model_fields_set:
                for column in sorted(set(getattr(self, key)) - features):
                    log.warning(
                        "drift.%s names %r, which is not a feature of this model version: it "
                        "is not watched; fix the name in bantay.yaml (bantay config check)",
                        key,
                        column,
                    )

    def kind(self, column: str) -> ColumnKind:
        return "categorical" if column in self.categorical_columns else "numerical"

    def method_for(self, column: str) -> str:
        if column == self.prediction_column:
            return self.prediction_method
        default = (
            self.categorical_method if self.kind(column) == "categorical" else self.numerical_method
        )
        return self.per_column_method.get(column, default)

    def threshold_for(self, column: str) -> float | None:
        """The configured threshold, or None for the method's own default (Evidently's)."""
        if column in self.per_column_threshold:
            return self.per_column_threshold[column]
        if column == self.prediction_column:
            return self.prediction_threshold
        if column in self.per_column_method:
            return None
        if self.kind(column) == "categorical":
            return self.categorical_threshold
        return self.numerical_threshold

    def configured_methods(self) -> list[tuple[str, str, ColumnKind]]:
        """Every configured drift method: its key in this block, its name, the column kind."""
        keys: list[tuple[str, str, ColumnKind]] = [
            ("numerical_method", self.numerical_method, "numerical"),
            ("categorical_method", self.categorical_method, "categorical"),
            ("prediction_method", self.prediction_method, "numerical"),
        ]
        keys += [
            (f"per_column_method.{c}", m, self.kind(c)) for c, m in self.per_column_method.items()
        ]
        return keys

    @model_validator(mode="after")
    def _check(self) -> DriftConfig:
        # Ranges and categories not given here are the default feeds' (set, not "given": a
        # model's own declarations replace them in for_features).
        columns = _default_columns()
        if "valid_ranges" not in self.model_fields_set:
            ranges = _declared_ranges(columns, self.numerical_columns)
            object.__setattr__(self, "valid_ranges", ranges)
        if "allowed_categories" not in self.model_fields_set:
            categories = _declared_categories(columns, self.categorical_columns)
            object.__setattr__(self, "allowed_categories", categories)
        if not self.features:
            raise ValueError(
                "drift config lists no columns: set numerical_columns and/or categorical_columns"
            )
        both = set(self.numerical_columns) & set(self.categorical_columns)
        if both:
            raise ValueError(
                f"columns {sorted(both)} are listed as both numerical and categorical; keep one"
            )
        for key in ("per_column_method", "per_column_threshold", "valid_ranges"):
            unknown = set(getattr(self, key)) - set(self.features)
            if unknown:
                raise ValueError(
                    f"{key} names {sorted(unknown)}, which are not drift columns; "
                    f"known columns: {self.features}"
                )
        unknown = set(self.allowed_categories) - set(self.categorical_columns)
        if unknown:
            raise ValueError(f"allowed_categories names non-categorical columns {sorted(unknown)}")
        return self

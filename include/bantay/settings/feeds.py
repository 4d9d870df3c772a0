"""Feeds are declared, not coded: each daily feed's columns (type, valid range, allowed values,
null tolerance) and its role (features, or labels that mature later), as ``bantay.yaml``'s
``features.feeds`` lists them.

The data contract checks every delivery against its feed's declaration, the Feast repo's views
read the accepted partitions, training and drift take categorical columns and valid ranges from
here, and the label of a model is a declared column of a declared label feed. Without a
``feeds:`` block the shipped demo's four feeds apply (``default_feeds.yaml`` beside this module,
in the same format a project writes).

Every feed partition also carries the keys ``learner_id`` (int64), ``event_timestamp`` and
``created_timestamp`` (UTC timestamps): they are the layout's, not a feed's, and are never
declared.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bantay.schema import CREATED, ENTITY, TIMESTAMP

DEFAULT_FEEDS_FILE = Path(__file__).with_name("default_feeds.yaml")
_DTYPES = {"float": "float64", "int": "int64", "string": "string"}
KEYS = (ENTITY, TIMESTAMP, CREATED)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One declared column of a feed."""

    type: Literal["float", "int", "string"] = Field(
        "float", description="float (float64), int (int64) or string"
    )
    min: float | None = Field(None, description="smallest valid value (numbers)")
    max: float | None = Field(None, description="largest valid value (numbers)")
    values: list[str | int] | None = Field(
        None, description="the allowed values; a column with them is categorical"
    )
    categorical: bool | None = Field(
        None,
        description="a category rather than a quantity (default: yes for strings and for "
        "columns with allowed values)",
    )
    max_null_ratio: float = Field(
        0.02, ge=0, le=1, description="share of missing values a delivery may have"
    )
    domain: str | None = Field(
        None,
        description="what a school can act on that this column measures (e.g. Attendance): "
        "its reasons are filed under it; a column without one is never a reason",
    )
    protected: bool = Field(
        False, description="a protected attribute: never given as a reason, whatever it weighs"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}; swap them")
        if self.type == "string" and (self.min is not None or self.max is not None):
            raise ValueError("a string column has no min/max; list its allowed values instead")
        if self.values is not None and not self.values:
            raise ValueError("values is empty; list the allowed values or drop the key")
        if self.protected and self.domain:
            raise ValueError("a protected column is never a reason: drop its domain")
        if self.domain is not None and not self.domain.strip():
            raise ValueError("domain is empty; name it (e.g. Attendance) or drop the key")
        return self

    @property
    def dtype(self) -> str:
        return _DTYPES[self.type]

    @property
    def is_categorical(self) -> bool:
        if self.categorical is not None:
            return self.categorical
        return self.type == "string" or self.values is not None


class FeedSettings(_Strict):
    """One daily feed: ``<data>/raw/<name>/date=YYYY-MM-DD/*.parquet``, checked by the data
    contract and published to ``<data>/accepted/<name>/``."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]{1,62}$",
        description="the feed's folder under raw/ and accepted/",
        examples=["learning_activity"],
    )
    role: Literal["features", "labels"] = Field(
        "features",
        description="features (delivered every day, waited for) or labels (outcomes that "
        "mature later, checked when delivered)",
    )
    population: bool = Field(
        False,
        description="its daily snapshot lists the enrolled learners: the learners scored, and "
        "the ids every other feed is checked against (exactly one features feed has it)",
    )
    columns: dict[str, ColumnSpec] = Field(
        min_length=1,
        description="column name: its declaration (keys are not declared)",
        examples=[{"attendance_rate": {"type": "float", "min": 0, "max": 1}}],
    )

    @field_validator("columns")
    @classmethod
    def _names(cls, value: dict[str, ColumnSpec]) -> dict[str, ColumnSpec]:
        keys = sorted(set(value) & set(KEYS))
        if keys:
            raise ValueError(
                f"{keys} are the partition keys every feed carries; do not declare them"
            )
        return value

    @model_validator(mode="after")
    def _labels_are_outcomes(self) -> FeedSettings:
        if self.role == "labels" and self.population:
            raise ValueError("a labels feed cannot be the population feed")
        return self

    def dtypes(self) -> dict[str, str]:
        """Expected columns and dtypes of one raw partition, keys included."""
        cols = {ENTITY: "int64", TIMESTAMP: "timestamp"}
        cols |= {name: spec.dtype for name, spec in self.columns.items()}
        return cols | {CREATED: "timestamp"}

    def ranges(self) -> dict[str, tuple[float | None, float | None]]:
        return {
            name: (spec.min, spec.max)
            for name, spec in self.columns.items()
            if spec.min is not None or spec.max is not None
        }

    def categories(self) -> dict[str, list[Any]]:
        return {n: list(s.values) for n, s in self.columns.items() if s.values is not None}

    def integer_columns(self) -> set[str]:
        return {n for n, s in self.columns.items() if s.type == "int"}

    @property
    def is_labels(self) -> bool:
        return self.role == "labels"


@lru_cache(maxsize=1)
def default_feeds() -> tuple[FeedSettings, ...]:
    """The shipped demo's feeds (``default_feeds.yaml``), used when a project declares none."""
    data = yaml.safe_load(DEFAULT_FEEDS_FILE.read_text(encoding="utf-8"))
    return tuple(FeedSettings.model_validate(item) for item in data["feeds"])


def feed_named(feed: str | FeedSettings) -> FeedSettings:
    """``feed`` itself, or the default feed of that name (callers that run on the shipped
    feeds name them; a project's own feeds travel as their declarations)."""
    if isinstance(feed, FeedSettings):
        return feed
    for known in default_feeds():
        if known.name == feed:
            return known
    names = [f.name for f in default_feeds()]
    raise ValueError(
        f"unknown feed {feed!r}; the default feeds are {names}: pass the feed's declaration "
        "(features.feeds in bantay.yaml) instead of its name"
    )

"""Reason codes: the ``explain:`` block of a model in ``bantay.yaml``.

How many reasons a learner gets and how they are computed. Which features a counsellor can act on
(each named by its domain) and which are never a reason (protected attributes) are declared with
the feeds' columns (``domain``, ``protected``); this block may narrow or extend them. Light on purpose
(pydantic only): settings are read where the scheduler parses DAG files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bantay.settings.feeds import ColumnSpec, default_feeds


def declared_domains(columns: Mapping[str, ColumnSpec]) -> dict[str, str]:
    """Each declared column's domain (``features.feeds[].columns.<name>.domain``)."""
    return {name: spec.domain for name, spec in columns.items() if spec.domain}


def declared_protected(columns: Mapping[str, ColumnSpec]) -> tuple[str, ...]:
    """The declared protected columns."""
    return tuple(name for name, spec in columns.items() if spec.protected)


def _default_columns() -> dict[str, ColumnSpec]:
    return {n: c for f in default_feeds() for n, c in f.columns.items()}


# A block built on its own (no project) sees the default feeds' declarations.
DEFAULT_DOMAINS = declared_domains(_default_columns())
DEFAULT_PROTECTED = declared_protected(_default_columns())
MAX_REASONS = 4


class ExplainConfig(BaseModel):
    """Per-learner reasons written with every score, and the global explanation of a version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        True, description="write reason codes and attributions into the prediction log"
    )
    max_reasons: int = Field(
        MAX_REASONS, ge=1, le=MAX_REASONS, description="reasons per learner (at most 4)"
    )
    domains: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_DOMAINS),
        description="actionable feature -> the domain its reason is filed under, over the "
        "feeds' declared domains (default: those); features without one are never a reason",
    )
    protected: tuple[str, ...] = Field(
        DEFAULT_PROTECTED,
        description="features never given as a reason, whatever they weigh, beside the feeds' "
        "declared protected columns (default: those)",
    )
    min_attribution: float = Field(
        0.01,
        ge=0.0,
        description="smallest push up (log-odds) a domain needs to be a reason",
    )
    tree_method: Literal["path", "shapley"] = Field(
        "path",
        description="gradient boosting: 'path' (per-split contributions along each tree path, "
        "fast) or 'shapley' (exact Tree SHAP, 36 times slower at 50,000 learners)",
    )

    @model_validator(mode="after")
    def _protected_is_never_actionable(self) -> ExplainConfig:
        both = sorted(set(self.domains) & set(self.protected))
        if both:
            raise ValueError(
                f"{both} are both in domains and protected; remove them from explain.domains "
                "(a protected attribute is never a reason)"
            )
        empty = sorted(f for f, d in self.domains.items() if not d.strip())
        if empty:
            raise ValueError(f"explain.domains gives {empty} an empty domain; name one")
        return self

    def for_columns(self, columns: Mapping[str, ColumnSpec]) -> ExplainConfig:
        """This block over a project's declared columns: their domains unless ``domains`` is
        set here, and every column declared protected beside the ones listed here."""
        given = self.model_fields_set
        domains = self.domains if "domains" in given else declared_domains(columns)
        listed = self.protected if "protected" in given else ()
        protected = tuple(dict.fromkeys([*listed, *declared_protected(columns)]))
        domains = {f: d for f, d in domains.items() if f not in protected}
        return self.model_copy(update={"domains": domains, "protected": protected})

    def actionable(self, features: list[str]) -> list[str]:
        """The features of ``features`` a reason may name, in their order."""
        return [f for f in features if f in self.domains and f not in self.protected]

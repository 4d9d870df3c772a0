"""Reason codes: the ``explain:`` block of a model in ``bantay.yaml``.

Which features a counsellor can act on (each named by the domain it belongs to), which are never
given as a reason (protected attributes), and how many reasons a learner gets. Light on purpose
(pydantic only): settings are read where the scheduler parses DAG files.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_DOMAINS = {
    "attendance_rate": "Attendance",
    "study_minutes": "Engagement",
    "assignment_completion": "Coursework",
    "quiz_score_avg": "Coursework",
    "late_submissions": "Coursework",
    "calls_with_parent": "Family contact",
    "messages_with_parent": "Family contact",
    "days_since_last_contact": "Family contact",
    "support_on_time_ratio": "Family contact",
}
DEFAULT_PROTECTED = ("region", "parent_abroad", "grade_level")
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
        description="actionable feature -> the domain its reason is filed under; features "
        "not listed are never a reason",
    )
    protected: tuple[str, ...] = Field(
        DEFAULT_PROTECTED, description="features never given as a reason, whatever they weigh"
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

    def actionable(self, features: list[str]) -> list[str]:
        """The features of ``features`` a reason may name, in their order."""
        return [f for f in features if f in self.domains and f not in self.protected]

"""The simulated world's feeds: the default feeds' declarations (``features.feeds`` when a
project declares none), read once. The simulator produces exactly these; a project with its own
feeds delivers them from its own producers and never runs the simulator on them.
"""

from __future__ import annotations

from bantay.schema import CREATED, ENTITY, TIMESTAMP  # noqa: F401  (the keys, beside the world's columns)
from bantay.settings.feeds import default_feeds

_FEEDS = default_feeds()

SOURCE_FEATURES: dict[str, tuple[str, ...]] = {
    f.name: tuple(f.columns) for f in _FEEDS if not f.is_labels
}
LABEL_SOURCE = next(f.name for f in _FEEDS if f.is_labels)
SOURCES = (*SOURCE_FEATURES, LABEL_SOURCE)
PROFILE = next(f.name for f in _FEEDS if f.population)
ACTIVITY_FEATURES = SOURCE_FEATURES["learning_activity"]
CONTACT_FEATURES = SOURCE_FEATURES["family_contact"]
PROFILE_FEATURES = SOURCE_FEATURES[PROFILE]
FEATURES = tuple(c for cols in SOURCE_FEATURES.values() for c in cols)
INT_COLUMNS = {c for f in _FEEDS for c in f.integer_columns()}
RANGES: dict[str, tuple[float, float]] = {
    c: (float(lo), float(hi))
    for f in _FEEDS
    for c, (lo, hi) in f.ranges().items()
    if lo is not None and hi is not None
}
REGIONS = tuple(str(v) for v in next(f for f in _FEEDS if f.population).categories()["region"])
CATEGORICAL = tuple(
    c for f in _FEEDS if not f.is_labels for c, spec in f.columns.items() if spec.is_categorical
)
NUMERICAL = tuple(c for c in FEATURES if c not in CATEGORICAL)
LABELS = tuple(next(f for f in _FEEDS if f.is_labels).columns)
LABEL = LABELS[0]


def feature_set() -> dict[str, list[str]]:
    """The world's features split by kind, as training and scoring describe them."""
    return {"numerical": list(NUMERICAL), "categorical": list(CATEGORICAL)}

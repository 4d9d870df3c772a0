"""The rules of the data contract, pure functions over one partition's Arrow table.

Every message is bounded and never echoes a raw string value from the data: counts, numeric
bounds, and at most a few masked examples (length + a short sha256), because a broken feed can put
names or e-mail addresses in any column and messages end up in logs, ``reason.json`` and e-mail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import statistics
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from bantay.schema import CREATED, ENTITY, TIMESTAMP
from bantay.settings import ContractSettings
from bantay.settings.feeds import FeedSettings, feed_named

RULES = (
    "missing",
    "files",
    "readable",
    "schema",
    "future",
    "nulls",
    "range",
    "frozen",
    "duplicates",
    "conflicts",
    "ids",
    "timestamps",
    "row_count",
)

MAX_ID = 2**53  # ids must survive JSON and float64 round trips
MAX_UNKNOWN_ID_RATIO = 0.01  # rows whose learner is not in the day's profile
MIN_PROFILE_OVERLAP = 0.5  # share of a profile's learners already in the previous profile
MIN_ROWS_FOR_FROZEN = 50  # fewer rows cannot show a frozen column (all-zero counts happen)
MIN_LABELS_FOR_FROZEN = 200  # a rare outcome is legitimately all 0 in a small cohort
MAX_FUTURE_DAYS = 1  # a partition dated more than this after the run's date is refused
MAX_LABEL_AGE_DAYS = 400  # labels older than this in a new delivery are a re-keyed/replayed feed
MAX_TEXT = 240  # characters of any one message part


def mask(value: object) -> str:
    """A raw value as a person may see it: its length and a short hash, never the text."""
    text = str(value)
    return f"<{len(text)} chars, sha256 {hashlib.sha256(text.encode()).hexdigest()[:8]}>"


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 15] + f"... (+{len(text) - limit + 15})"


@dataclass(frozen=True)
class Violation:
    rule: str
    column: str | None
    found: str
    expected: str

    def sentence(self) -> str:
        where = f" column {self.column!r}" if self.column else ""
        return (
            f"[{self.rule}]{where}: found {bounded(self.found)}; expected {bounded(self.expected)}"
        )


@dataclass
class History:
    """What recent accepted days looked like: row counts and which columns varied."""

    row_counts: list[int] = field(default_factory=list)
    varying: set[str] = field(default_factory=set)


def arrow_kind(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_integer(t):
        return "int64"
    if pa.types.is_floating(t):
        return "float64"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_dictionary(t) and arrow_kind(t.value_type) == "string":
        return "string"
    return str(t)


def _schema(table: pa.Table, feed: FeedSettings) -> list[Violation]:
    out = []
    expected = feed.dtypes()
    actual = {name: arrow_kind(table.schema.field(name).type) for name in table.column_names}
    if len(set(table.column_names)) != len(table.column_names):
        out.append(Violation("schema", None, "duplicated column names", f"{list(expected)}"))
        return out
    missing = [c for c in expected if c not in actual]
    extra = [c for c in actual if c not in expected]
    declare = f" (if the feed is right, declare them under features.feeds[{feed.name}].columns)"
    if missing:
        out.append(
            Violation("schema", None, f"missing columns {missing}", f"{list(expected)}{declare}")
        )
    if extra:
        shown = [mask(c) if len(c) > 40 else c for c in extra[:5]]
        out.append(
            Violation(
                "schema",
                None,
                f"{len(extra)} unexpected columns {shown}",
                f"{list(expected)}{declare}",
            )
        )
    for c in expected:
        if c in actual and actual[c] != expected[c]:
            out.append(Violation("schema", c, f"type {actual[c]}", f"type {expected[c]}"))
    for c in (TIMESTAMP, CREATED):
        if c in actual and actual[c] == "timestamp" and table.schema.field(c).type.tz is None:
            out.append(Violation("schema", c, "naive timestamps", "UTC timestamps (tz-aware)"))
    return out


def _invalid(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Null, or NaN for floats: both mean "no value" to every consumer downstream."""
    if pa.types.is_floating(col.type):
        return pc.or_kleene(pc.is_null(col), pc.is_nan(col))
    return pc.is_null(col)


def null_counts(table: pa.Table) -> dict[str, int]:
    """Missing values (null, or NaN for floats) per column, as the null rule counts them."""
    return {col: pc.sum(_invalid(table[col])).as_py() or 0 for col in table.column_names}


def _nulls(table: pa.Table, feed: FeedSettings, n: int) -> list[Violation]:
    out = []
    for col in feed.dtypes():
        bad = pc.sum(_invalid(table[col])).as_py() or 0
        spec = feed.columns.get(col)
        limit = spec.max_null_ratio if spec is not None else 0.0  # keys are always complete
        if bad / n > limit:
            out.append(
                Violation(
                    "nulls",
                    col,
                    f"{bad / n:.1%} nulls or NaN ({bad} of {n})",
                    f"at most {limit:.1%}",
                )
            )
    return out


def _ranges(table: pa.Table, feed: FeedSettings) -> list[Violation]:
    out = []
    for col, (lo, hi) in feed.ranges().items():
        values = table[col]
        low = pc.less(values, lo) if lo is not None else None
        high = pc.greater(values, hi) if hi is not None else None
        outside = pc.or_(low, high) if low is not None and high is not None else (low or high)
        bad = pc.sum(outside).as_py() or 0
        if bad:
            mm = pc.min_max(pc.filter(values, outside))
            bounds = (
                f"[{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]"
            )
            out.append(
                Violation(
                    "range",
                    col,
                    f"{bad} values outside, min {mm['min'].as_py():g} max {mm['max'].as_py():g}",
                    f"within {bounds}",
                )
            )
    for col, allowed in feed.categories().items():
        out += _categories(table, col, allowed)
    return out


def _categories(table: pa.Table, col: str, allowed: list) -> list[Violation]:
    values = pc.drop_null(table[col])
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    try:
        value_set = pa.array(allowed).cast(values.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        value_set = pa.array([str(v) for v in allowed]).cast(values.type, safe=False)
    unknown = pc.invert(pc.is_in(values, value_set=value_set))
    bad = pc.sum(unknown).as_py() or 0
    if not bad:
        return []
    distinct = pc.unique(pc.filter(values, unknown)).to_pylist()
    examples = [mask(v) if isinstance(v, str) else v for v in distinct[:3]]
    return [
        Violation(
            "range",
            col,
            f"{bad} values in {len(distinct)} unknown categories, e.g. {examples}",
            f"one of {list(allowed)}",
        )
    ]


def _frozen(
    table: pa.Table, expected: dict[str, str], history: History, min_rows: int
) -> list[Violation]:
    out = []
    for col in expected:
        if col in (ENTITY, TIMESTAMP, CREATED) or col not in history.varying:
            continue
        values = pc.drop_null(table[col])
        if len(values) >= min_rows and pc.count_distinct(values).as_py() == 1:
            out.append(
                Violation(
                    "frozen",
                    col,
                    f"one value in all {len(values)} rows",
                    "values that vary, as they did on recent accepted days",
                )
            )
    return out


def _day_keys(table: pa.Table) -> pa.Array:
    micros = pc.cast(pc.cast(table[TIMESTAMP], pa.timestamp("us", "UTC"), safe=False), pa.int64())
    return pc.divide(micros, 86_400_000_000)


def _duplicates(
    table: pa.Table, expected: dict[str, str], cfg: ContractSettings
) -> list[Violation]:
    """The same learner twice in one event day: conflicting values, or plain repeats."""
    n = table.num_rows
    keyed = pa.table({ENTITY: table[ENTITY], "_day": _day_keys(table)})
    groups = keyed.group_by([ENTITY, "_day"]).aggregate([]).num_rows
    if groups == n:
        return []
    values = [c for c in expected if c not in (ENTITY, TIMESTAMP, CREATED)]
    conflicting = []
    for col in values:
        with_col = keyed.append_column(col, table[col])
        if with_col.group_by([ENTITY, "_day", col]).aggregate([]).num_rows > groups:
            conflicting.append(col)
    learners = keyed.group_by([ENTITY, "_day"]).aggregate([([], "count_all")])
    repeated = pc.sum(pc.greater(learners["count_all"], 1)).as_py()
    if conflicting:
        return [
            Violation(
                "conflicts",
                col,
                f"{repeated} learners appear more than once in one day with different values",
                "one row per learner and event day",
            )
            for col in conflicting[:5]
        ]
    dupes = n - groups
    if dupes / n > cfg.max_duplicate_ratio:
        return [
            Violation(
                "duplicates",
                f"{ENTITY}+{TIMESTAMP}",
                f"{dupes} duplicate keys ({repeated} learners repeated within a day)",
                f"at most {cfg.max_duplicate_ratio:.1%}",
            )
        ]
    return []


def _ids(
    table: pa.Table,
    feed: FeedSettings,
    profile_ids: pa.Array | None,
    previous_profile: pa.Array | None,
) -> list[Violation]:
    ids = table[ENTITY]
    bad = pc.sum(pc.or_(pc.less_equal(ids, 0), pc.greater(ids, MAX_ID))).as_py() or 0
    if bad:
        return [Violation("ids", ENTITY, f"{bad} ids not in 1..2^53", "positive integer ids")]
    if feed.population:
        if previous_profile is None or len(previous_profile) == 0:
            return []
        known = pc.sum(pc.is_in(ids, value_set=previous_profile)).as_py() or 0
        share = known / len(ids)
        if share < MIN_PROFILE_OVERLAP:
            return [
                Violation(
                    "ids",
                    ENTITY,
                    f"only {share:.1%} of learners were in the previous accepted profile",
                    f"at least {MIN_PROFILE_OVERLAP:.0%} (a re-keyed feed changes every id)",
                )
            ]
        return []
    if profile_ids is None or len(profile_ids) == 0:
        return []
    unknown = len(ids) - (pc.sum(pc.is_in(ids, value_set=profile_ids)).as_py() or 0)
    if unknown / len(ids) > MAX_UNKNOWN_ID_RATIO:
        return [
            Violation(
                "ids",
                ENTITY,
                f"{unknown} of {len(ids)} rows name a learner not in the day's profile",
                f"at most {MAX_UNKNOWN_ID_RATIO:.0%} (a re-keyed feed names nobody we know)",
            )
        ]
    return []


def _timestamps(
    table: pa.Table, feed: FeedSettings, day: dt.date, cfg: ContractSettings
) -> list[Violation]:
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
    if feed.is_labels:
        start = end - dt.timedelta(days=MAX_LABEL_AGE_DAYS + 1)
        why = f"labels observed in the {MAX_LABEL_AGE_DAYS} days up to the partition's day"
    else:
        start = dt.datetime.combine(
            day - dt.timedelta(days=cfg.max_lateness_days), dt.time(), dt.UTC
        )
        why = f"the interval plus {cfg.max_lateness_days} day(s) of allowed lateness"
    out = []
    for col in (TIMESTAMP, CREATED) if feed.is_labels else (TIMESTAMP,):
        mm = pc.min_max(table[col])
        tmin, tmax = mm["min"].as_py(), mm["max"].as_py()
        lo = start if col == TIMESTAMP else end - dt.timedelta(days=1)
        if tmin is not None and (tmin < lo or tmax >= end):
            out.append(
                Violation(
                    "timestamps",
                    col,
                    f"range {tmin.isoformat()} .. {tmax.isoformat()}",
                    f"inside [{lo.isoformat()}, {end.isoformat()}) ({why})",
                )
            )
    return out


def _row_count(n: int, cfg: ContractSettings, recent: list[int]) -> list[Violation]:
    if not recent:
        return []
    typical = statistics.median(recent)
    ratio = n / typical if typical else float("inf")
    if cfg.min_row_ratio <= ratio <= cfg.max_row_ratio:
        return []
    return [
        Violation(
            "row_count",
            None,
            f"{n} rows, {ratio:.2f}x the median of the last {len(recent)} days ({typical:g})",
            f"between {cfg.min_row_ratio}x and {cfg.max_row_ratio}x",
        )
    ]


def check_table(
    table: pa.Table,
    source: str | FeedSettings,
    day: dt.date,
    cfg: ContractSettings,
    recent_counts: list[int] | None = None,
    *,
    history: History | None = None,
    profile_ids: pa.Array | None = None,
    previous_profile: pa.Array | None = None,
) -> list[Violation]:
    """Every contract rule against one partition of ``source`` (its declaration, or the name of
    one of the default feeds); returns all violations, not just the first."""
    feed = feed_named(source)
    expected = feed.dtypes()
    out = _schema(table, feed)
    if out:
        return out  # value rules on the wrong schema would only add noise
    history = history or History(row_counts=list(recent_counts or []))
    n = table.num_rows
    if n == 0:
        if feed.is_labels:
            return []  # most days no label matures
        return [Violation("row_count", None, "0 rows", "a non-empty daily partition")]
    out += _nulls(table, feed, n)
    out += _ranges(table, feed)
    out += _frozen(
        table, expected, history, MIN_LABELS_FOR_FROZEN if feed.is_labels else MIN_ROWS_FOR_FROZEN
    )
    out += _ids(table, feed, profile_ids, previous_profile)
    out += _timestamps(table, feed, day, cfg)
    if not any(v.rule == "nulls" and v.column in (ENTITY, TIMESTAMP) for v in out):
        out += _duplicates(table, expected, cfg)
    if not feed.is_labels:
        out += _row_count(n, cfg, history.row_counts)
    return out

"""Fairness across slices drawn for the drift day page: per slice one small SVG with each group's
recall on matured labels (a dot on its interval) against the line no group may fall behind (the
best group's recall less the allowed gap), and beside it each group's share flagged on the day
against the four-fifths line. The e-mail says the same in lines (``day_fairness``); the page
draws it as well.

The SVG is made here, on the server, with no colour of its own: the stylesheet colours its
classes in both themes. Every number is written by :mod:`bantay.notify.fmt` and every name is
escaped, so the markup reads as XML as well as HTML.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from bantay.monitoring.fairness_results import FairnessCheck, SliceRate, SliceRecall
from bantay.notify import fmt

SVG_NS = "http://www.w3.org/2000/svg"
ROW = 18  # px per group
HEAD = 16  # px above the first group: the panels' names
FOOT = 14  # px below the last group: the scales
LABEL = 112  # px for the group names
RECALL = 160  # px of the recall panel (recall 0 to 1)
FLAGS = 120  # px of the flag-rate panel (0 to the most-flagged judged group's share)
VALUE = 44  # px for the value written after a panel
PAD = 6
NAME_CHARS = 16  # longer slice and group names are cut (the whole name is in their title)


def slice_figure(check: FairnessCheck | None) -> dict[str, Any] | None:
    """The day's fairness as the page draws it: one chart per slice and what its caption
    states; None when the day recorded no fairness (checked before it was, or no slice)."""
    if check is None or not (check.rates or check.recalls):
        return None
    names = dict.fromkeys(r.slice for r in (*check.rates, *check.recalls))
    days = check.labelled_days
    return {
        "slices": [slice_chart(check, name) for name in names],
        "labelled": bool(check.recalls),
        "labelled_days": f"{days[0]} … {days[-1]}" if len(days) > 1 else "".join(days),
        "allowed_gap": fmt.num(check.allowed_gap, 2),
        "min_flag_ratio": fmt.num(check.min_flag_ratio, 2),
        "threshold": fmt.num(check.threshold),
    }


def slice_chart(check: FairnessCheck, name: str) -> dict[str, Any]:
    """Slice ``name``'s chart: the recall panel once labels matured, the flag-rate panel
    whenever the day's scores were sliced; ``svg`` is the markup, ``label`` its text."""
    rates = {r.group: r for r in check.rates if r.slice == name}
    recalls = {r.group: r for r in check.recalls if r.slice == name}
    groups = list(dict.fromkeys([*rates, *recalls]))
    regressed = {r.group for r in check.regressed if r.slice == name}
    below = {r.group for r in check.below_ratio if r.slice == name}
    height = HEAD + ROW * len(groups) + FOOT
    shown, whole = _cut(name)
    parts = [_text("name", 0, HEAD - 4, shown, title=whole)]
    words = [name + ":"]
    x = LABEL
    if recalls:
        parts.append(_recall_panel(check, groups, recalls, regressed, x))
        words.append(_recall_words(check, groups, recalls, regressed))
        x += RECALL + VALUE + PAD
    else:
        words.append("no matured labels yet.")
    if rates:
        parts.append(_flag_panel(check, groups, rates, below, x))
        words.append(_flag_words(check, groups, rates, below))
        x += FLAGS + VALUE
    for i, group in enumerate(groups):
        short, title = _cut(group)
        parts.append(_text("group", LABEL - PAD, _mid(i) + 4, short, anchor="end", title=title))
    label = " ".join(words)
    svg = Markup(
        '<svg xmlns="{ns}" class="slices" data-slice="{name}" width="{w}" height="{h}" '
        'viewBox="0 0 {w} {h}" role="img" aria-label="{label}"><title>{label}</title>{body}'
        "</svg>"
    ).format(ns=SVG_NS, name=name, w=x, h=height, label=label, body=Markup("").join(parts))
    return {
        "slice": name,
        "svg": svg,
        "label": label,
        "labelled": bool(recalls),
        "regressed": [g for g in groups if g in regressed],
        "below": [g for g in groups if g in below],
    }


# -- Recall panel ------------------------------------------------------------------------------


def _best(recalls: dict[str, SliceRecall]) -> float | None:
    judged = [r.recall for r in recalls.values() if _judged(r)]
    return max(judged) if judged else None  # type: ignore[type-var]


def _judged(r: SliceRecall) -> bool:
    return not r.too_small and r.recall is not None


def _recall_panel(
    check: FairnessCheck,
    groups: list[str],
    recalls: dict[str, SliceRecall],
    regressed: set[str],
    x0: int,
) -> Markup:
    """Per group a dot at its recall on its interval; the dashed line at the best group's
    recall less the allowed gap; too-small groups say so instead of a value."""

    def at(value: float) -> float:
        return x0 + RECALL * min(max(value, 0.0), 1.0)

    parts = [
        _rect("panel", x0, HEAD, RECALL, ROW * len(groups)),
        _text("head", x0, HEAD - 4, "recall on matured labels"),
        _text("axis", x0, _foot(groups), "0"),
        _text("axis", x0 + RECALL, _foot(groups), "1", anchor="end"),
    ]
    best = _best(recalls)
    if best is not None:
        limit = best - check.allowed_gap
        parts.append(
            _line(
                "limit",
                at(limit),
                HEAD - 2,
                at(limit),
                HEAD + ROW * len(groups) + 2,
                title=f"best recall {fmt.num(best, 2)} less the allowed gap "
                f"{fmt.num(check.allowed_gap, 2)}: {fmt.num(limit, 2)}",
            )
        )
    for i, group in enumerate(groups):
        r = recalls.get(group)
        y = _mid(i)
        if r is None:
            parts.append(_text("small", x0 + PAD, y + 4, fmt.MISSING))
            continue
        if not _judged(r):
            words = f"too small ({fmt.count(r.positives)} positives)"
            title = f"{group}: too small to judge recall ({fmt.count(r.positives)} positives)"
            parts.append(_group(title, [_text("small", x0 + PAD, y + 4, words)]))
            continue
        cls = " regressed" if group in regressed else ""
        inner = []
        if r.low is not None and r.high is not None:
            inner.append(_line("whisker" + cls, at(r.low), y, at(r.high), y))
        inner += [
            _circle("recall" + cls, at(r.recall or 0.0), y, 4),
            _text("value" + cls, x0 + RECALL + PAD, y + 4, fmt.num(r.recall, 2)),
        ]
        parts.append(_group(f"{group}: {_recall_phrase(r, group in regressed)}", inner))
    return Markup("").join(parts)


def _recall_phrase(r: SliceRecall, regressed: bool) -> str:
    interval = f" ({fmt.num(r.low, 2)}–{fmt.num(r.high, 2)})" if r.low is not None else ""
    gap = f", gap to best {fmt.num(r.gap, 2)}" if r.gap is not None else ""
    bounds = f" ({fmt.num(r.gap_low, 2)}–{fmt.num(r.gap_high, 2)})" if r.gap_low is not None else ""
    return f"recall {fmt.num(r.recall, 2)}{interval}{gap}{bounds}" + (
        ", regressed" if regressed else ""
    )


def _recall_words(
    check: FairnessCheck, groups: list[str], recalls: dict[str, SliceRecall], regressed: set[str]
) -> str:
    best = _best(recalls)
    line = (
        f" (line at the best {fmt.num(best, 2)} less the allowed gap "
        f"{fmt.num(check.allowed_gap, 2)}: {fmt.num(best - check.allowed_gap, 2)})"
        if best is not None
        else ""
    )
    each = [
        f"{g} too small to judge"
        if not _judged(recalls[g])
        else f"{g} {_recall_phrase(recalls[g], g in regressed).removeprefix('recall ')}"
        for g in groups
        if g in recalls
    ]
    return f"recall by group{line}: {'; '.join(each)}."


# -- Flag-rate panel ---------------------------------------------------------------------------


def _flag_top(rates: dict[str, SliceRate]) -> float:
    """The most-flagged judged group's share: what every ratio is measured against."""
    return max((r.flag_rate for r in rates.values() if not r.too_small), default=0.0)


def _flag_panel(
    check: FairnessCheck,
    groups: list[str],
    rates: dict[str, SliceRate],
    below: set[str],
    x0: int,
) -> Markup:
    """Per group a bar of its share flagged, the most-flagged judged group's at full width;
    the dashed line at four-fifths (``min_flag_ratio``) of it."""
    top = _flag_top(rates)
    parts = [
        _rect("panel", x0, HEAD, FLAGS, ROW * len(groups)),
        _text("head", x0, HEAD - 4, "flagged on the day"),
        _text("axis", x0, _foot(groups), "0"),
        _text("axis", x0 + FLAGS, _foot(groups), fmt.pct(top, 1) if top else "", anchor="end"),
    ]
    if top > 0:
        x = x0 + FLAGS * check.min_flag_ratio
        title = f"{fmt.num(check.min_flag_ratio, 2)} of the most-flagged share {fmt.pct(top, 1)}"
        parts.append(_line("limit", x, HEAD - 2, x, HEAD + ROW * len(groups) + 2, title=title))
    for i, group in enumerate(groups):
        r = rates.get(group)
        y = _mid(i)
        if r is None:
            parts.append(_text("small", x0 + PAD, y + 4, fmt.MISSING))
            continue
        if r.too_small:
            words = f"too small ({fmt.count(r.rows)} learners)"
            title = f"{group}: too small to judge the flag rate ({fmt.count(r.rows)} learners)"
            parts.append(_group(title, [_text("small", x0 + PAD, y + 4, words)]))
            continue
        cls = " below" if group in below else ""
        width = FLAGS * min(r.flag_rate / top, 1.0) if top > 0 else 0.0
        inner = [
            _rect("bar" + cls, x0, y - 5, width, 10),
            _text("value" + cls, x0 + FLAGS + PAD, y + 4, fmt.pct(r.flag_rate, 1)),
        ]
        parts.append(_group(f"{group}: {_flag_phrase(r, group in below)}", inner))
    return Markup("").join(parts)


def _flag_phrase(r: SliceRate, below: bool) -> str:
    ratio = f", ratio {fmt.num(r.ratio, 2)}" if r.ratio is not None else ""
    return f"flagged {fmt.pct(r.flag_rate, 1)}{ratio}" + (", below four-fifths" if below else "")


def _flag_words(
    check: FairnessCheck, groups: list[str], rates: dict[str, SliceRate], below: set[str]
) -> str:
    top = _flag_top(rates)
    line = (
        f" (line at {fmt.num(check.min_flag_ratio, 2)} of the most-flagged share {fmt.pct(top, 1)})"
        if top > 0
        else ""
    )
    each = [
        f"{g} too small to judge"
        if rates[g].too_small
        else f"{g} {_flag_phrase(rates[g], g in below).removeprefix('flagged ')}"
        for g in groups
        if g in rates
    ]
    return f"Flagged by group{line}: {'; '.join(each)}."


# -- SVG elements ------------------------------------------------------------------------------


def _cut(name: str) -> tuple[str, str | None]:
    """A name as it fits the label column, and the whole name as its title when cut."""
    if len(name) <= NAME_CHARS:
        return name, None
    return name[: NAME_CHARS - 1] + "…", name


def _mid(i: int) -> float:
    return HEAD + ROW * i + ROW / 2


def _foot(groups: list[str]) -> float:
    return HEAD + ROW * len(groups) + FOOT - 3


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _title(title: str | None) -> Markup:
    return Markup("<title>{}</title>").format(title) if title else Markup("")


def _group(title: str, inner: list[Markup]) -> Markup:
    return Markup('<g class="group">{}{}</g>').format(_title(title), Markup("").join(inner))


def _text(
    cls: str, x: float, y: float, words: str, anchor: str = "start", title: str | None = None
) -> Markup:
    return Markup('<text class="{}" x="{}" y="{}" text-anchor="{}">{}{}</text>').format(
        cls, _n(x), _n(y), anchor, _title(title), words
    )


def _rect(cls: str, x: float, y: float, width: float, height: float) -> Markup:
    return Markup('<rect class="{}" x="{}" y="{}" width="{}" height="{}"/>').format(
        cls, _n(x), _n(y), _n(width), _n(height)
    )


def _line(cls: str, x1: float, y1: float, x2: float, y2: float, title: str | None = None) -> Markup:
    if title:
        return Markup('<line class="{}" x1="{}" y1="{}" x2="{}" y2="{}">{}</line>').format(
            cls, _n(x1), _n(y1), _n(x2), _n(y2), _title(title)
        )
    return Markup('<line class="{}" x1="{}" y1="{}" x2="{}" y2="{}"/>').format(
        cls, _n(x1), _n(y1), _n(x2), _n(y2)
    )


def _circle(cls: str, x: float, y: float, r: float) -> Markup:
    return Markup('<circle class="{}" cx="{}" cy="{}" r="{}"/>').format(cls, _n(x), _n(y), _n(r))

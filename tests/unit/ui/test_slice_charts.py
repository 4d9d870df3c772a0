"""The drift day page's fairness by slice: one SVG per slice, each group's recall on its interval
against the best-less-allowed-gap line and its flag rate against four-fifths, coloured by what the
check judged (not by where the dot falls), too-small groups said in words, only flag rates before
labels matured; well-formed XML with a title that names the slice and the values. The check is
hand-built (``support.fairness_days``) with known flags."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from bantay.monitoring.fairness_results import SliceRate
from bantay.notify import fmt
from bantay.ui import slice_charts as sc
from support.fairness_days import FAIRNESS, unlabelled

NS = {"s": sc.SVG_NS}
SVG = f"{{{sc.SVG_NS}}}"


def _svg(check, name: str) -> ET.Element:
    chart = next(c for c in sc.slice_figure(check)["slices"] if c["slice"] == name)
    return ET.fromstring(str(chart["svg"]))  # well-formed, or this raises


def _classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def _group(svg: ET.Element, group: str, part: str) -> ET.Element:
    """The ``<g>`` of ``group`` in the recall or the flag-rate panel (by its title's words)."""
    found = [
        g
        for g in svg.iterfind("s:g", NS)
        if g.findtext("s:title", "", NS).startswith(f"{group}: ")
        and part in g.findtext("s:title", "", NS)
    ]
    assert len(found) == 1, (group, part, [g.findtext("s:title", "", NS) for g in found])
    return found[0]


def _limits(svg: ET.Element) -> list[float]:
    return sorted(
        float(line.get("x1")) for line in svg.iterfind("s:line", NS) if "limit" in _classes(line)
    )


def test_one_chart_per_slice_with_every_group_in_order() -> None:
    figure = sc.slice_figure(FAIRNESS)
    assert [c["slice"] for c in figure["slices"]] == ["region", "parent_abroad"]
    assert figure["labelled"] and figure["labelled_days"] == "2026-11-10 … 2026-11-11"
    for chart in figure["slices"]:
        svg = ET.fromstring(str(chart["svg"]))
        assert svg.tag == f"{SVG}svg" and svg.get("data-slice") == chart["slice"]
        expected = [r.group for r in FAIRNESS.rates if r.slice == chart["slice"]]
        names = [t.text for t in svg.iterfind("s:text", NS) if "group" in _classes(t)]
        assert names == expected
        rows = len(expected)
        assert int(svg.get("height")) == sc.HEAD + sc.ROW * rows + sc.FOOT
        assert svg.get("viewBox") == f"0 0 {svg.get('width')} {svg.get('height')}"
        judged_recalls = [
            r for r in FAIRNESS.recalls if r.slice == chart["slice"] and not r.too_small
        ]
        judged_rates = [r for r in FAIRNESS.rates if r.slice == chart["slice"] and not r.too_small]
        assert len(svg.findall(".//s:circle", NS)) == len(judged_recalls)
        bars = [r for r in svg.iterfind(".//s:rect", NS) if "bar" in _classes(r)]
        assert len(bars) == len(judged_rates)


def test_a_regressed_group_takes_the_fail_colour_by_its_bound_not_by_its_dot() -> None:
    svg = _svg(FAIRNESS, "region")
    regressed = {r.group for r in FAIRNESS.regressed if r.slice == "region"}
    assert regressed == {"luzon"}
    for group in ("ncr", "luzon", "visayas"):
        g = _group(svg, group, "recall")
        marked = ["regressed" in _classes(e) for e in g if e.tag != f"{SVG}title"]
        assert len(marked) == 3  # the whisker, the dot, the value
        assert all(marked) if group in regressed else not any(marked), group
    # visayas's dot is left of the line (0.52 < 0.81 - 0.25), yet its gap's lower bound (0.20)
    # is within the allowed gap: it is drawn behind the line but not in the fail colour.
    line = _limits(svg)[0]
    assert line == pytest.approx(sc.LABEL + sc.RECALL * (0.81 - FAIRNESS.allowed_gap), abs=0.1)
    visayas = _group(svg, "visayas", "recall").find("s:circle", NS)
    assert float(visayas.get("cx")) < line and "regressed" not in _classes(visayas)
    assert "regressed" in _group(svg, "luzon", "recall").findtext("s:title", "", NS)


def test_the_interval_whisker_spans_low_to_high_on_the_recall_scale() -> None:
    svg = _svg(FAIRNESS, "region")
    for r in FAIRNESS.recalls:
        if r.slice != "region" or r.too_small:
            continue
        g = _group(svg, r.group, "recall")
        whisker, dot = g.find("s:line", NS), g.find("s:circle", NS)
        at = lambda v: sc.LABEL + sc.RECALL * v  # noqa: E731
        assert float(whisker.get("x1")) == pytest.approx(at(r.low), abs=0.1)
        assert float(whisker.get("x2")) == pytest.approx(at(r.high), abs=0.1)
        assert float(dot.get("cx")) == pytest.approx(at(r.recall), abs=0.1)
        value = [t.text for t in g.iterfind("s:text", NS)]
        assert value == [fmt.num(r.recall, 2)]


def test_flag_rates_below_four_fifths_take_the_warn_colour_against_the_line() -> None:
    svg = _svg(FAIRNESS, "region")
    below = {r.group for r in FAIRNESS.below_ratio if r.slice == "region"}
    assert below == {"luzon"}
    top = max(r.flag_rate for r in FAIRNESS.rates if r.slice == "region" and not r.too_small)
    x0 = sc.LABEL + sc.RECALL + sc.VALUE + sc.PAD
    assert _limits(svg)[1] == pytest.approx(x0 + sc.FLAGS * FAIRNESS.min_flag_ratio, abs=0.1)
    for r in FAIRNESS.rates:
        if r.slice != "region" or r.too_small:
            continue
        g = _group(svg, r.group, "flagged")
        bar = g.find("s:rect", NS)
        assert float(bar.get("width")) == pytest.approx(sc.FLAGS * r.flag_rate / top, abs=0.1)
        assert ("below" in _classes(bar)) == (r.group in below), r.group
        assert [t.text for t in g.iterfind("s:text", NS)] == [fmt.pct(r.flag_rate, 1)]
    fine = _svg(FAIRNESS, "parent_abroad")
    assert not any("below" in _classes(e) or "regressed" in _classes(e) for e in fine.iter())


def test_too_small_groups_say_so_instead_of_a_value() -> None:
    svg = _svg(FAIRNESS, "region")
    recall, flags = _group(svg, "mindanao", "recall"), _group(svg, "mindanao", "flag rate")
    for g in (recall, flags):
        assert g.find("s:circle", NS) is None and g.find("s:rect", NS) is None
        words = [t.text for t in g.iterfind("s:text", NS)]
        assert len(words) == 1 and words[0].startswith("too small"), words
    assert "(2 positives)" in recall.findtext("s:text", "", NS)
    assert "(12 learners)" in flags.findtext("s:text", "", NS)
    # mindanao's 40% (not judged) is not what the bars are scaled to: ncr's 20% fills the panel.
    ncr = _group(svg, "ncr", "flagged").find("s:rect", NS)
    assert float(ncr.get("width")) == sc.FLAGS


def test_before_labels_matured_only_the_flag_rates_are_drawn() -> None:
    figure = sc.slice_figure(unlabelled())
    assert not figure["labelled"]
    labelled = _svg(FAIRNESS, "region")
    svg = _svg(unlabelled(), "region")
    assert svg.find(".//s:circle", NS) is None and _limits(svg) == [
        pytest.approx(sc.LABEL + sc.FLAGS * FAIRNESS.min_flag_ratio, abs=0.1)
    ]
    heads = [t.text for t in svg.iterfind("s:text", NS) if "head" in _classes(t)]
    assert heads == ["flagged on the day"]
    assert int(svg.get("width")) < int(labelled.get("width"))
    assert "no matured labels yet" in svg.findtext("s:title", "", NS)
    assert len([r for r in svg.iterfind(".//s:rect", NS) if "bar" in _classes(r)]) == 3


def test_the_title_and_label_name_the_slice_and_its_values() -> None:
    chart = sc.slice_figure(FAIRNESS)["slices"][0]
    svg = ET.fromstring(str(chart["svg"]))
    assert svg.get("role") == "img"
    title = svg[0]
    assert title.tag == f"{SVG}title" and title.text == svg.get("aria-label") == chart["label"]
    label = chart["label"]
    assert label.startswith("region:")
    assert "luzon 0.38 (0.29–0.47), gap to best 0.43 (0.31–0.55), regressed" in label
    assert "luzon 12.0%, ratio 0.60, below four-fifths" in label
    assert "mindanao too small to judge" in label
    assert "less the allowed gap 0.25: 0.56" in label


def test_names_are_escaped_and_a_day_without_fairness_draws_nothing() -> None:
    odd = dataclasses.replace(
        unlabelled(),
        rates=(
            SliceRate('a<b>&"c', "x & y", 100, 0.2, 1.0, False),
            SliceRate('a<b>&"c', "<script>", 100, 0.1, 0.5, False),
        ),
    )
    chart = sc.slice_figure(odd)["slices"][0]
    assert "<script>" not in str(chart["svg"])
    svg = ET.fromstring(str(chart["svg"]))
    assert svg.get("data-slice") == 'a<b>&"c'
    assert [t.text for t in svg.iterfind("s:text", NS) if "group" in _classes(t)] == [
        "x & y",
        "<script>",
    ]
    assert sc.slice_figure(None) is None
    assert sc.slice_figure(dataclasses.replace(FAIRNESS, rates=(), recalls=())) is None


def test_long_names_are_cut_with_the_whole_name_in_their_title() -> None:
    long, slice_name = "a group name longer than the column", "a slice name longer than that"
    rate = SliceRate(slice_name, long, 100, 0.2, 1.0, False)
    check = dataclasses.replace(unlabelled(), rates=(rate,))
    chart = sc.slice_figure(check)["slices"][0]
    svg = ET.fromstring(str(chart["svg"]))
    assert chart["label"].startswith(f"{slice_name}: ") and f"{long} 20.0%" in chart["label"]
    for cls, whole in (("group", long), ("name", slice_name)):
        (name,) = [t for t in svg.iterfind("s:text", NS) if cls in _classes(t)]
        title = name.find("s:title", NS)
        assert title.text == whole
        shown = title.tail  # what the text element shows after its title
        assert shown.endswith("…") and len(shown) == sc.NAME_CHARS
        assert whole.startswith(shown[:-1])
    short = sc.slice_figure(unlabelled())["slices"][0]["svg"]
    names = [
        t for t in ET.fromstring(str(short)).iterfind("s:text", NS) if t.get("class") == "name"
    ]
    assert [(t.text, t.find("s:title", NS)) for t in names] == [("region", None)]

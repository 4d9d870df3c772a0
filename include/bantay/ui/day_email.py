"""What the drift e-mail of a day said, for the drift day page: the same parts, from the check
the e-mail was made of (kept beside the day's report), written by the same formatter.

The page lists the e-mail's charts by title and links each to its own route, so the page answers
without drawing; a drawn chart is kept in memory (a few, by day and re-check) for the next view.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from bantay.notify.day_parts import chart_columns, day_parts, page_css, render_parts
from bantay.ui.queries import Reader
from bantay.ui.render import templates
from bantay.ui.slice_charts import slice_figure

_KEPT_CHARTS = 48
_charts: OrderedDict[tuple[str, dt.date, int, str], bytes] = OrderedDict()
_lock = threading.Lock()


def email_parts(
    reader: Reader, model: str, day: dt.date, chart_url: Callable[[int], str]
) -> dict[str, Any] | None:
    """The partials' context of ``model``'s e-mail of ``day`` (charts at ``chart_url(n)``) and
    the partials rendered (``html``, by name; escaped by the e-mails' environment), or None when
    the day's check was not kept (a day checked before it was). The fairness part carries the
    page's own chart per slice under its heading (``slice_charts``: None for a day checked
    before fairness was), which the e-mail does not draw."""
    check = reader.day_check(model, day)
    if check is None:
        return None
    approval = reader.settings.model(model).approval
    parts = day_parts(check.result, check.decision, model=model, date=day, approval=approval)
    columns = chart_columns(check.result, check.reference_sample, check.current_sample)
    charts = [{"title": title, "src": chart_url(n)} for n, (_, _, title) in enumerate(columns)]
    figure = slice_figure(check.result.fairness)
    chart = templates().get_template("_slice_charts.html").render(fc=figure) if figure else ""
    context = {
        **parts,
        "css": page_css(),
        "charts": charts,
        "fairness_chart": Markup(chart),  # noqa: S704 (rendered by the pages' autoescaping env)
    }
    html = {name: Markup(text) for name, text in render_parts(context).items()}  # noqa: S704
    return {**context, "html": html, "slice_charts": figure}


def chart(reader: Reader, model: str, day: dt.date, n: int, stamp: str) -> bytes | None:
    """The ``n``-th chart of the day's e-mail as PNG, or None when there is no such chart.
    ``stamp`` tells re-checks of the day apart (the drift row's update time)."""
    from bantay.notify.charts import chart_png  # noqa: PLC0415 (matplotlib)

    key = (model, day, n, stamp)
    with _lock:
        if key in _charts:
            _charts.move_to_end(key)
            return _charts[key]
    check = reader.day_check(model, day)
    if check is None:
        return None
    ref, cur = check.reference_sample, check.current_sample
    columns = chart_columns(check.result, ref, cur)
    if not 0 <= n < len(columns):
        return None
    column, kind, title = columns[n]
    png = chart_png(column, kind, ref[column], cur[column], title)
    with _lock:
        _charts[key] = png
        while len(_charts) > _KEPT_CHARTS:
            _charts.popitem(last=False)
    return png

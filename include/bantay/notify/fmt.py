"""The one formatter for every number, time and change the bantay pages and e-mails show.

Each function takes what the registry or a manifest holds (float, int, None, NaN, ISO strings)
and returns text; a missing value is an en dash, never ``None`` or ``nan`` on a page.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from markupsafe import Markup, escape

MISSING = "–"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def num(value: Any, digits: int = 3) -> str:
    """A metric or score: ``0.812``; integers keep no decimals; missing -> en dash."""
    number = _number(value)
    if number is None:
        return MISSING
    if isinstance(value, int) and not isinstance(value, bool):
        return count(value)
    return f"{number:.{digits}f}"


def count(value: Any) -> str:
    """A count with thousands separators: ``12,345``."""
    number = _number(value)
    return MISSING if number is None else f"{round(number):,}"


def pct(value: Any, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage: ``12.5%``."""
    number = _number(value)
    return MISSING if number is None else f"{100 * number:.{digits}f}%"


def tiny(value: Any, digits: int = 1) -> str:
    """A quantity that may be far below what ``num`` shows (an additivity error, a
    tolerance): ``3.1e-15``; zero is ``0``."""
    number = _number(value)
    if number is None:
        return MISSING
    return "0" if number == 0 else f"{number:.{digits}e}"


def delta(value: Any, digits: int = 3) -> str:
    """A signed change: ``+0.012``, ``−0.004`` (a real minus sign), ``±0.000``."""
    number = _number(value)
    if number is None:
        return MISSING
    text = f"{abs(number):.{digits}f}"
    if float(text) == 0:
        return f"±{text}"
    return f"+{text}" if number > 0 else f"−{text}"


def when(value: Any) -> str:
    """A point in time in UTC to the minute: ``2026-11-22 03:15 UTC``."""
    moment = _datetime(value)
    return MISSING if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def time_tag(value: Any) -> Markup | str:
    """A point in time as ``<time datetime="...Z">2026-11-22 03:15 UTC</time>``: the pages'
    script shows it in the reader's Airflow timezone; without the script it reads UTC."""
    moment = _datetime(value)
    if moment is None:
        return MISSING
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{}">{}</time>').format(escape(stamp), when(moment))


def day(value: Any) -> str:
    """A calendar day: ``2026-11-22``."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    moment = _datetime(value)
    return MISSING if moment is None else moment.date().isoformat()


def any_value(item: Any) -> str:
    """Anything a gate check or a parameter holds: numbers formatted, lists joined."""
    if item is None:
        return MISSING
    if isinstance(item, bool):
        return "yes" if item else "no"
    if isinstance(item, int):
        return count(item)
    if isinstance(item, float):
        return num(item)
    if isinstance(item, list | tuple):
        return "[" + ", ".join(any_value(v) for v in item) + "]"
    return str(item)


def _datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


FILTERS = {
    "num": num,
    "count": count,
    "pct": pct,
    "tiny": tiny,
    "delta": delta,
    "when": when,
    "time": time_tag,
    "day": day,
    "value": any_value,
}

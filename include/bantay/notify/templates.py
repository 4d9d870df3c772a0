"""The Jinja environment every e-mail is rendered with: one loader, strict undefined names (a
template that names a missing value fails in tests, not in on-call's inbox), HTML autoescaped."""

from __future__ import annotations

from functools import cache

import jinja2


@cache
def environment() -> jinja2.Environment:
    """The shared environment over ``bantay/notify/templates/``."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("bantay.notify", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )

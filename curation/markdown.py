"""Render untrusted markdown (review guidelines, chat message content) to safe HTML.

Markdown is converted with the ``markdown`` package, then *everything* it produced, raw
HTML the author typed included, goes through ``nh3`` with an explicit allow-list. Nothing
reaches the page that nh3 did not approve: disallowed tags are dropped (``script`` and
``style`` with their content), event-handler and style attributes are dropped, and links
may only use http, https or mailto.
"""

from __future__ import annotations

import re

import markdown as md
import nh3
from django.utils.safestring import SafeString, mark_safe

__all__ = ["ALLOWED_ATTRIBUTES", "ALLOWED_TAGS", "URL_SCHEMES", "render_markdown"]

EXTENSIONS = ["fenced_code", "tables", "sane_lists"]

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
        "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
        "a", "hr", "del",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}, "code": {"class"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"

# The only class allowed anywhere: fenced_code's ``language-xxx`` on <code>.
_LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "class":
        return value if tag == "code" and _LANGUAGE_CLASS.fullmatch(value) else None
    return value


_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    strip_comments=True,
    link_rel=LINK_REL,
    url_schemes=set(URL_SCHEMES),
)


def render_markdown(text: str) -> SafeString:
    """Markdown → HTML → nh3 allow-list → SafeString. Safe for untrusted input."""
    # A fresh Markdown instance per call: instances carry state and are not thread-safe.
    html = md.Markdown(extensions=EXTENSIONS, output_format="html").convert(text or "")
    cleaned = _cleaner.clean(html)
    # This is the ONE place in the project allowed to call mark_safe, and only ever on the
    # output of the nh3 allow-list just above. Do not add mark_safe anywhere else.
    return mark_safe(cleaned)  # noqa: S308

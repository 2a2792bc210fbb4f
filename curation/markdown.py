"""Render untrusted markdown (review guidelines, chat message content) to safe HTML.

Markdown is converted with the ``markdown`` package, then *everything* it produced, raw
HTML the author typed included, goes through ``nh3`` with an explicit allow-list. Nothing
reaches the page that nh3 did not approve: disallowed tags are dropped (``script`` and
``style`` with their content), event-handler and style attributes are dropped, and links
may only use http, https or mailto (relative links pass).

Python-Markdown is pure Python and slow on some inputs, and this text is untrusted, so:

- formatting covers at most ``MAX_MARKDOWN_CHARS`` and stops before a block (lines with
  no blank line between) of more than ``MAX_BLOCK_LINES`` lines or with a line opening
  more than ``MAX_NESTING`` nested list items or quotes; the rest is shown escaped,
  verbatim, in a ``<pre>`` (nothing is hidden from a reviewer, and a huge paste cannot
  stall a page);
- link parsing is bounded (``MAX_LINK_SCAN`` characters and ``MAX_BRACKET_HOPS`` nested
  brackets per ``[``): upstream scans to the matching bracket character by character,
  which is quadratic on inputs like ``[[[[…]]]]`` (10 KB of them took seconds);
- raw HTML blocks are not parsed as blocks (inline raw HTML still reaches nh3);
- image syntax is not parsed (``<img>`` is not allowed anyway); ``![a](b)`` stays as text,
  so the reviewer still sees the URL and nothing is fetched from it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import markdown as md
import nh3
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension
from markdown.inlinepatterns import (
    LINK_RE,
    REFERENCE_RE,
    LinkInlineProcessor,
    ReferenceInlineProcessor,
    ShortReferenceInlineProcessor,
)

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "MAX_BLOCK_LINES",
    "MAX_MARKDOWN_CHARS",
    "MAX_NESTING",
    "URL_SCHEMES",
    "render_markdown",
]

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

MAX_MARKDOWN_CHARS = 64_000
MAX_BLOCK_LINES = 300
MAX_NESTING = 32
MAX_LINK_SCAN = 2_000
MAX_BRACKET_HOPS = 8

logger = logging.getLogger(__name__)

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


class _BoundedLinkParsing:
    """Upstream's getText/getLink with the same results on ordinary links, bounded work.

    Both hop between closing brackets with C-level ``find``/``count`` (between two closers
    the nesting depth only grows) instead of walking every character in Python, and give up
    after ``MAX_LINK_SCAN`` characters or ``MAX_BRACKET_HOPS`` closers.
    """

    def getText(self, data: str, index: int) -> tuple[str, int, bool]:
        close = _matching(data, index, "[", "]")
        if close < 0:
            return "", index, False
        return data[index:close], close + 1, True

    def getLink(self, data: str, index: int) -> tuple[str, str | None, int, bool]:
        m = _LINK_START.match(data, index)
        if m is None:
            return "", None, index, False
        if m.group(1):  # [text](<url> "title")
            href, title = m.group(1)[1:-1], m.group(2) and m.group(2)[1:-1]
            end = m.end(0)
        else:  # [text](url "title"), parentheses in the url balanced
            close = _matching(data, m.end(0), "(", ")")
            if close < 0:
                return "", None, index, False
            inner = data[m.end(0) : close]
            titled = _TITLED.fullmatch(inner)
            href, title = (titled.group(1), titled.group(3)) if titled else (inner, None)
            end = close + 1
        unescape: Any = self.unescape  # type: ignore[attr-defined]  # upstream, untyped
        if title is not None:
            title = _WHITESPACE.sub(" ", unescape(title.strip()))
        return unescape(href).strip(), title, end, True


# Upstream's RE_LINK: "(" then optionally a whole <url> "title")" form.
_LINK_START = re.compile(r"""\(\s*(?:(<[^<>]*>)\s*(?:('[^']*'|"[^"]*")\s*)?\))?""")
# url, then a title quoted with ' or " that ends the parentheses.
_TITLED = re.compile(r"""(.*?)\s*(["'])(.*)\2\s*""", re.DOTALL)
_WHITESPACE = re.compile(r"\s")


def _matching(data: str, index: int, opener: str, closer: str) -> int:
    """Position of the ``closer`` that balances an ``opener`` just before ``index``, or -1."""
    end = min(len(data), index + MAX_LINK_SCAN)
    depth = 1
    pos = index
    for _ in range(MAX_BRACKET_HOPS):
        close = data.find(closer, pos, end)
        if close < 0:
            return -1
        depth += data.count(opener, pos, close) - 1
        if depth == 0:
            return close
        pos = close + 1
    return -1


class _BoundedLink(_BoundedLinkParsing, LinkInlineProcessor):
    pass


class _BoundedReference(_BoundedLinkParsing, ReferenceInlineProcessor):
    pass


class _BoundedShortReference(_BoundedLinkParsing, ShortReferenceInlineProcessor):
    pass


class _UntrustedInput(Extension):
    """Swap in the bounded link parsers (same names and priorities) and drop image syntax."""

    def extendMarkdown(self, parser: Any) -> None:
        parser.inlinePatterns.register(_BoundedReference(REFERENCE_RE, parser), "reference", 170)
        parser.inlinePatterns.register(_BoundedLink(LINK_RE, parser), "link", 160)
        parser.inlinePatterns.register(
            _BoundedShortReference(REFERENCE_RE, parser), "short_reference", 130
        )
        for name in ("image_link", "image_reference", "short_image_ref"):
            parser.inlinePatterns.deregister(name)
        # Raw HTML blocks go through the stdlib HTMLParser, quadratic on unclosed "<a<a<a…";
        # the inline raw-HTML pattern still passes tags through (to nh3) without it.
        parser.preprocessors.deregister("html_block")


# A line opening with more than MAX_NESTING nested list items or quotes ("1. 1. 1. …",
# "> > > …"): Python-Markdown recurses and re-scans the line once per level.
_TOO_DEEP = re.compile(
    r"[ \t]*(?:(?:[*+-]|\d{1,9}[.)])[ \t]+|>[ \t]*){" + str(MAX_NESTING + 1) + "}"
)


def _split(text: str) -> tuple[str, str]:
    """Split ``text`` into the part to format and the rest, shown verbatim.

    Formatting stops at the last line break within ``MAX_MARKDOWN_CHARS`` (or at the limit
    for one enormous line), and before any block of more than ``MAX_BLOCK_LINES`` lines
    with no blank line between: Python-Markdown re-scans a block's remaining text for each
    line it consumes, so thousands of ``=`` or ``#`` lines in one block take minutes.
    """
    end = len(text)
    if end > MAX_MARKDOWN_CHARS:
        end = text.rfind("\n", 0, MAX_MARKDOWN_CHARS) + 1 or MAX_MARKDOWN_CHARS
    pos = run = run_start = 0
    while pos < end:
        newline = text.find("\n", pos, end)
        line_end = end if newline < 0 else newline + 1
        if text[pos:line_end].strip():
            if run == 0:
                run_start = pos
            run += 1
            if run > MAX_BLOCK_LINES or _TOO_DEEP.match(text, pos, line_end):
                end = run_start
                break
        else:
            run = 0
        pos = line_end
    return text[:end], text[end:]


def _verbatim(text: str) -> SafeString:
    # Escaped by format_html, not sanitized: nh3 is slow on megabytes of entities.
    return format_html("<pre>{}</pre>", text) if text else SafeString()


def render_markdown(text: str) -> SafeString:
    """Markdown → HTML → nh3 allow-list → SafeString. Safe for untrusted input.

    Past the limits described in the module docstring the text is shown verbatim in a
    ``<pre>`` after the formatted part; all of it if Python-Markdown raises (it recurses
    once per nesting level: RecursionError on nesting the limits do not catch).
    """
    head, rest = _split(text or "")
    # A fresh Markdown instance per call: instances carry state and are not thread-safe.
    converter = md.Markdown(
        extensions=["fenced_code", "tables", "sane_lists", _UntrustedInput()],
        output_format="html",
    )
    try:
        converted = converter.convert(head)
    except Exception as exc:  # untrusted input must never break the page it is shown on
        # No traceback for RecursionError: a thousand frames of it cost more than the parse.
        logger.warning(
            "markdown failed (%s); showing the text verbatim",
            type(exc).__name__,
            exc_info=not isinstance(exc, RecursionError),
        )
        return _verbatim(text)
    cleaned = _cleaner.clean(converted)
    # This is the ONE place in the project allowed to call mark_safe, and only ever on the
    # output of the nh3 allow-list just above. Do not add mark_safe anywhere else.
    safe = mark_safe(cleaned)  # noqa: S308
    if rest:
        safe = format_html("{}\n{}", safe, _verbatim(rest)) if safe else _verbatim(rest)
    return safe

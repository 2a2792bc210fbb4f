"""curation.markdown: untrusted markdown renders as formatting, never as active markup,
and no input can make it slow."""

from __future__ import annotations

import re
import time
from pathlib import Path

import markdown
import pytest
from django.template import Context, Template
from django.utils.safestring import SafeString

from curation.markdown import MAX_BLOCK_LINES, MAX_MARKDOWN_CHARS, MAX_NESTING, render_markdown

ROOT = Path(__file__).resolve().parent.parent
REL = 'rel="noopener noreferrer nofollow"'


def render(text: str) -> str:
    return str(render_markdown(text))


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


# --- what must never get through ---------------------------------------------------------


def test_a_script_tag_is_removed_with_its_content() -> None:
    html = render("before <script>alert(1)</script> after")
    assert "<script" not in html.lower()
    assert "alert(1)" not in html
    assert "before" in html and "after" in html


def test_a_script_block_on_its_own_lines_is_removed_too() -> None:
    html = render("<script>\nalert(1)\n</script>\n\ntext")
    assert "<script" not in html.lower()
    assert "alert" not in html


def test_an_image_with_an_onerror_handler_is_dropped() -> None:
    html = render("<img src=x onerror=alert(1)>")
    assert "onerror" not in html
    assert "<img" not in html


def test_a_javascript_markdown_link_loses_its_href() -> None:
    html = render("[x](javascript:alert(1))")
    assert "javascript:" not in html.lower()
    assert ">x</a>" in html
    assert hrefs(html) == []


@pytest.mark.parametrize(
    "text",
    [
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        "<a href=' javascript:alert(1)'>x</a>",
        '<a href="&#106;avascript:alert(1)">x</a>',
        "[x](<javascript:alert(1)>)",
        "[x][r]\n\n[r]: javascript:alert(1)",
        "<javascript:alert(1)>",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](vbscript:msgbox(1))",
    ],
)
def test_links_with_other_schemes_lose_their_href(text: str) -> None:
    html = render(text)
    assert hrefs(html) == []
    assert "script:" not in html.lower()


def test_event_handlers_and_styles_are_stripped_from_allowed_tags() -> None:
    html = render('<p onclick="alert(1)" style="position:fixed" id="x">hi</p>')
    assert "onclick" not in html and "style" not in html and "id=" not in html
    assert "hi" in html


def test_tags_outside_the_allow_list_are_dropped_but_their_text_stays() -> None:
    html = render('<div><iframe src="http://evil"></iframe><span>kept</span></div>')
    for tag in ("<div", "<iframe", "<span"):
        assert tag not in html
    assert "kept" in html


def test_html_comments_are_stripped() -> None:
    assert "secret" not in render("a <!-- secret --> b")


def test_classes_survive_only_as_a_language_on_code() -> None:
    html = render('<code class="evil language-x">a</code><p class="x">b</p>')
    assert "class" not in html
    assert 'class="language-py"' in render('<code class="language-py">a</code>')


def test_image_syntax_stays_visible_as_text_and_fetches_nothing() -> None:
    html = render("![tracker](http://evil.example/pixel.png)")
    assert "<img" not in html
    assert "http://evil.example/pixel.png" in html


# --- what must get through -----------------------------------------------------------------


def test_a_plain_http_link_keeps_its_href_and_gets_a_safe_rel() -> None:
    html = render('<a href="http://ok">ok</a>')
    assert 'href="http://ok"' in html
    assert REL in html


def test_markdown_links_keep_href_and_title_for_allowed_schemes() -> None:
    html = render('[docs](https://example.com/a_(b) "The docs") and [me](mailto:me@example.com)')
    assert 'href="https://example.com/a_(b)"' in html
    assert 'title="The docs"' in html
    assert 'href="mailto:me@example.com"' in html
    assert html.count(REL) == 2


def test_reference_links_and_relative_links_work() -> None:
    html = render("See [the guide][g] or [home](/projects/).\n\n[g]: https://example.com/guide")
    assert hrefs(html) == ["https://example.com/guide", "/projects/"]


def test_code_fences_render_as_pre_code_with_the_language_and_escaped_content() -> None:
    html = render("```python\nif a < b:\n    print('<b>hi</b>')\n```")
    assert '<pre><code class="language-python">' in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html
    assert "<b>" not in html


def test_tables_render() -> None:
    html = render("| name | score |\n|:-----|------:|\n| ann  | 4 |\n| bo | 5 |")
    for tag in ("<table>", "<thead>", "<tbody>", "<th>name</th>", "<td>ann</td>", "<td>5</td>"):
        assert tag in html


def test_everyday_formatting_renders() -> None:
    html = render(
        "# Title\n\n## Sub\n\n**bold** *em* `code` <del>gone</del>  \nnext\n\n"
        "> quoted\n\n1. one\n2. two\n\n- a\n- b\n\n---\n"
    )
    for fragment in (
        "<h1>Title</h1>",
        "<h2>Sub</h2>",
        "<strong>bold</strong>",
        "<em>em</em>",
        "<code>code</code>",
        "<del>gone</del>",
        "<br>",
        "<blockquote>",
        "<ol>",
        "<li>one</li>",
        "<ul>",
        "<hr>",
    ):
        assert fragment in html


def test_the_result_is_a_safe_string_and_empty_input_renders_nothing() -> None:
    assert isinstance(render_markdown("*x*"), SafeString)
    assert render_markdown("") == ""


def test_text_that_merely_mentions_tags_keeps_its_words() -> None:
    html = render("Use 5 < 6 & 7 > 3 in `a<b>`.")
    assert "5 &lt; 6 &amp; 7 &gt; 3" in html
    assert "<code>a&lt;b&gt;</code>" in html


# --- size and speed ------------------------------------------------------------------------


def mixed_markdown(size: int) -> str:
    block = (
        "## Step\n\nSome *emphasis*, **strong**, `code` and a [link](https://example.com/x).\n\n"
        "- one\n- two\n\n```python\nprint('hi')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "> quoted <script>alert(1)</script>\n\n"
    )
    return (block * (size // len(block) + 1))[:size]


def test_a_one_megabyte_document_renders_in_under_two_seconds() -> None:
    text = mixed_markdown(1_000_000)
    start = time.perf_counter()
    html = render(text)
    assert time.perf_counter() - start < 2.0
    assert "<h2>Step</h2>" in html
    assert "<script" not in html


def test_text_past_the_formatting_limit_is_shown_verbatim_and_escaped() -> None:
    text = mixed_markdown(MAX_MARKDOWN_CHARS * 2) + "\nTHE END <script>alert(2)</script>"
    html = render(text)
    assert "<script" not in html
    assert "THE END &lt;script&gt;alert(2)&lt;/script&gt;" in html
    head, _, tail = html.rpartition("<pre>")
    assert "<h2>Step</h2>" in head
    assert "## Step" in tail  # the rest is all there, just not formatted


def test_a_block_with_too_many_lines_is_shown_verbatim() -> None:
    text = "**intro**\n\n" + "# heading\n" * (MAX_BLOCK_LINES + 1)
    html = render(text)
    assert "<strong>intro</strong>" in html
    assert "<h1>" not in html
    assert html.count("# heading") == MAX_BLOCK_LINES + 1


def test_a_line_nested_too_deeply_is_shown_verbatim() -> None:
    text = "**intro**\n\n" + "1. " * (MAX_NESTING + 1) + "<script>x</script>"
    html = render(text)
    assert html.startswith("<p><strong>intro</strong></p>\n<pre>1. 1. 1. ")
    assert "<script" not in html
    assert "<ol>" in render("1. " * MAX_NESTING + "fine")


def test_text_is_shown_verbatim_when_the_markdown_parser_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(self: object, source: str) -> str:
        raise RecursionError

    monkeypatch.setattr(markdown.Markdown, "convert", explode)
    assert render("*a* <script>b</script>") == "<pre>*a* &lt;script&gt;b&lt;/script&gt;</pre>"


# Inputs on which upstream Python-Markdown takes from seconds to minutes (or crashes).
ADVERSARIAL = {
    "nested brackets": "[" * 500_000 + "]" * 500_000,
    "unclosed links": "[a](" * 250_000,
    "unclosed tags": "<http://a" * 110_000,
    "setext underlines": "\n=" * 500_000,
    "heading lines": "\n#][&<|" * 140_000,
    "quoted list markers": "\n>-" * 330_000,
    "nested list markers": "1. " * 330_000,
    "deep blockquote": ">" * 1_000_000,
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_adversarial_megabyte_inputs_render_in_under_two_seconds(text: str) -> None:
    start = time.perf_counter()
    render(text)
    assert time.perf_counter() - start < 2.0


# --- the template filter -------------------------------------------------------------------


def test_the_markdown_filter_renders_sanitized_html_in_templates() -> None:
    template = Template("{% load seedbed_markdown %}<div>{{ v|markdown }}</div>")
    html = template.render(Context({"v": "**hi** <script>alert(1)</script> [x](javascript:y)"}))
    assert "<strong>hi</strong>" in html  # not escaped a second time by autoescape
    assert "<script" not in html
    assert "javascript:" not in html


def test_the_markdown_filter_renders_nothing_for_none() -> None:
    template = Template("{% load seedbed_markdown %}[{{ v|markdown }}]")
    assert template.render(Context({"v": None})) == "[]"


def test_mark_safe_is_called_nowhere_but_the_markdown_renderer() -> None:
    callers = sorted(
        str(path.relative_to(ROOT))
        for package in ("curation", "generation")
        for path in (ROOT / package).rglob("*.py")
        if "mark_safe(" in path.read_text(encoding="utf-8")
    )
    assert callers == ["curation/markdown.py"]

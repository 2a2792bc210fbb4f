"""``{% load seedbed_markdown %}`` then ``{{ text|markdown }}``: untrusted markdown, sanitized.

Lives under curation.projects because template tag libraries are only discovered in
installed apps; the rendering itself is curation.markdown.render_markdown.
"""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from curation.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown(value: object) -> SafeString:
    """Render ``value`` as markdown through the nh3 allow-list; ``None`` renders as nothing."""
    return render_markdown("" if value is None else str(value))

"""Seeds and model outputs are untrusted: they render as text, never as markup."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from curation.seeds.services import import_seed_set
from tests.cast import Cast
from tests.factories import SampleFactory

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "<script>alert('seed')</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
]


def page(cast: Cast, url: str) -> str:
    client = Client()
    client.force_login(cast.viewer)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_a_seed_containing_a_script_tag_renders_as_text(cast: Cast) -> None:
    lines = "\n".join(
        json.dumps({"instruction": "Clean this text.", "input": p, "output": "ok"})
        for p in PAYLOADS
    )
    seed_set = import_seed_set(cast.owner, cast.project, name="Nasty", data=lines.encode())
    html = page(cast, f"/seed-sets/{seed_set.pk}/")
    assert "<script>alert('seed')</script>" not in html
    assert "&lt;script&gt;alert(&#x27;seed&#x27;)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_a_model_output_containing_markup_renders_as_text(cast: Cast) -> None:
    sample = SampleFactory(
        project=cast.project,
        messages=[
            {"role": "user", "content": "Say something dangerous."},
            {"role": "assistant", "content": PAYLOADS[0] + PAYLOADS[1]},
        ],
    )
    html = page(cast, f"/samples/{sample.pk}/")
    assert "<script>alert" not in html
    assert 'onerror="alert' not in html
    assert "&lt;script&gt;alert(&#x27;seed&#x27;)&lt;/script&gt;" in html
    listing = page(cast, f"/projects/{cast.project.pk}/samples/")
    assert "<script>alert" not in listing


def test_every_page_forbids_inline_scripts_through_its_content_security_policy(cast: Cast) -> None:
    client = Client()
    client.force_login(cast.viewer)
    response = client.get(f"/projects/{cast.project.pk}/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp

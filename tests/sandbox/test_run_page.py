"""The run page shows the sandbox's limits for recipes that run code (need SBX)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.cast import Cast
from tests.factories import RunFactory

pytestmark = pytest.mark.django_db


def page(cast: Cast, recipe: str, version: str) -> str:
    run = RunFactory(project=cast.project, recipe_id=recipe, recipe_version=version)
    client = Client()
    client.force_login(cast.viewer)
    response = client.get(f"/runs/{run.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_run_whose_recipe_runs_code_shows_the_sandbox_limits(cast: Cast, settings: Any) -> None:
    settings.SEEDBED_SANDBOX_WALL_SECONDS = "3"
    settings.SEEDBED_SANDBOX_MEMORY_MB = "256"
    html = page(cast, "datagen", "1")  # DataGen declares SBX
    block = html[html.index('id="sandbox"') :]
    block = block[: block.index("</section>")]
    assert "<dt>Wall time</dt><dd>3 s</dd>" in block
    assert "<dt>Memory</dt><dd>256 MB per process</dd>" in block
    assert "<dt>Network</dt><dd>none</dd>" in block


def test_a_run_whose_recipe_runs_no_code_has_no_sandbox_block(cast: Cast) -> None:
    assert 'id="sandbox"' not in page(cast, "self_instruct", "2")

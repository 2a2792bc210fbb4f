"""The recipe catalogue in a browser: filter in place, open a recipe, see its roles."""

from __future__ import annotations

from typing import Any

import pytest

from curation.projects.models import ModelEndpoint, Role
from generation.recipes.registry import all_recipes
from tests.factories import EndpointFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_curator_filters_the_catalogue_and_opens_a_recipe_with_its_roles(
    page_as: Any, live_server: Any
) -> None:
    project = ProjectFactory(name="Catalogue")
    curator = UserFactory(username="c-curator")
    MembershipFactory(project=project, user=curator, role=Role.CURATOR)
    EndpointFactory(project=project, name="local", is_default=True)
    lacking = EndpointFactory(project=project, name="no-logprobs")
    ModelEndpoint.objects.filter(pk=lacking.pk).update(capabilities={"logprobs": False})

    page = page_as(curator)
    page.goto(f"{live_server.url}/projects/{project.pk}/runs/")
    assert page.locator(".recipe-card").count() == len(all_recipes())
    with_lp = [r for r in all_recipes() if "LP" in {n.code for n in r.meta.needs}]
    assert 1 < len(with_lp) < len(all_recipes())
    page.select_option("select[name=need]", "LP")
    page.wait_for_function(
        f"() => document.querySelectorAll('.recipe-card').length === {len(with_lp)}"
    )
    assert "need=LP" in page.url  # the filtered view is a link too
    assert page.locator("#recipe-constitutional_ai").is_visible()

    page.locator("#recipe-constitutional_ai details summary").click()
    assert page.locator("#recipe-constitutional_ai details li").first.is_visible()
    page.locator("#recipe-constitutional_ai a", has_text="New run").click()
    page.wait_for_selector("#run-form")
    assert page.locator("select[name=role_policy]").input_value() != ""
    assert "(defaults to policy)" in page.locator("select[name=role_judge]").inner_text()
    assert "no-logprobs" in page.locator("#need-LP").inner_text()
    assert page.console_errors == []

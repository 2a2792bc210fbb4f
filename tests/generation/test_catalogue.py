"""The recipe catalogue: grouped by the seed list's sections, filtered by output and need."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.test import Client

from generation.recipes.kit.recipe import SECTIONS, Need
from generation.recipes.registry import all_recipes
from tests.cast import Cast

pytestmark = pytest.mark.django_db


def logged_in(cast: Cast, who: str = "curator") -> Client:
    client = Client()
    client.force_login(cast.user(who))
    return client


def runs_page(
    cast: Cast, who: str = "curator", query: str = "", client: Client | None = None, **headers: Any
) -> str:
    client = client or logged_in(cast, who)
    response = client.get(f"/projects/{cast.project.pk}/runs/{query}", **headers)
    assert response.status_code == 200
    return str(response.content.decode())


def section_ids(html: str) -> list[str]:
    ids = []
    for part in html.split('class="catalogue-section" id="section-')[1:]:
        ids.append(part.split('"', 1)[0])
    return ids


def card_ids(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('id="recipe-')[1:]]


def test_the_catalogue_groups_recipes_by_section_in_the_seed_lists_order(cast: Cast) -> None:
    html = runs_page(cast)
    sections = section_ids(html)
    assert sections == [s for s in SECTIONS if s in {"evolution", "preference", "other"}]
    assert SECTIONS["preference"] in html
    assert SECTIONS["self_play"] not in html  # empty sections are hidden
    assert "4 of 60 entries" in html
    assert card_ids(html) == [
        "evol_instruct",
        "constitutional_ai",
        "self_rewarding",
        "self_instruct",
    ]


def test_each_card_shows_entry_inputs_roles_needs_deviations_and_a_new_run_link(
    cast: Cast,
) -> None:
    html = runs_page(cast)
    card = html[html.index('id="recipe-constitutional_ai"') :]
    card = card[: card.index("</article>")]
    assert "#18" in card and "Constitutional AI" in card
    assert "<code>instruction</code>" in card and "<code>qa</code>" in card
    assert "policy" in card and "judge" in card and "(→ policy)" in card
    assert ">LP</abbr>" in card
    assert "<details" in card and "Where we deviate" in card
    assert f"/projects/{cast.project.pk}/runs/new/?recipe=constitutional_ai" in card


def test_viewers_see_the_catalogue_without_new_run_links(cast: Cast) -> None:
    html = runs_page(cast, "viewer")
    assert 'id="recipe-self_instruct"' in html
    assert "/runs/new/" not in html


def test_the_catalogue_filters_by_output_kind(cast: Cast) -> None:
    html = runs_page(cast, query="?output=preference")
    assert sorted(card_ids(html)) == ["constitutional_ai", "self_rewarding"]
    assert section_ids(html) == ["preference"]
    assert "2 of 4 recipes match" in html and "4 of 60 entries" in html
    assert '<option value="preference" selected>' in html


def test_the_catalogue_filters_by_need(cast: Cast) -> None:
    assert card_ids(runs_page(cast, query="?need=LP")) == ["constitutional_ai"]
    assert card_ids(runs_page(cast, query="?need=N")) == ["self_rewarding"]
    assert card_ids(runs_page(cast, query="?need=none")) == ["evol_instruct", "self_instruct"]


def test_filters_that_match_nothing_say_so(cast: Cast) -> None:
    html = runs_page(cast, query="?output=tool_trajectory")
    assert card_ids(html) == [] and "No recipe matches these filters" in html


def test_the_catalogue_filter_is_a_plain_form_that_htmx_narrows_to_a_fragment(
    cast: Cast,
) -> None:
    html = runs_page(cast)
    form = html[html.index('class="catalogue-filters"') - 40 :]
    form = form[: form.index("</form>")]
    assert 'method="get"' in form and 'hx-get="' in form and 'hx-target="#catalogue"' in form
    fragment = runs_page(cast, query="?need=LP", HTTP_HX_REQUEST="true")
    assert fragment.lstrip().startswith('<div id="catalogue">')
    assert card_ids(fragment) == ["constitutional_ai"] and "<table" not in fragment


def test_the_api_filters_recipes_by_output_and_need(cast: Cast, api_client_for: Any) -> None:
    client = api_client_for(cast.viewer)

    def ids(query: str) -> list[str]:
        return [r["id"] for r in client.get(f"/api/v1/recipes{query}").json()]

    assert len(ids("")) == 4
    assert ids("?output=preference") == ["constitutional_ai", "self_rewarding"]
    assert ids("?output=sft&need=LP") == ["constitutional_ai"]
    assert ids("?need=lp") == ["constitutional_ai"]
    assert ids("?need=none") == ["evol_instruct", "self_instruct"]
    assert ids("?output=conversation") == []
    recipe = client.get("/api/v1/recipes?need=N").json()[0]
    assert recipe["section"] == "preference" and recipe["section_title"] == SECTIONS["preference"]
    assert recipe["inputs"] and recipe["roles"] and recipe["needs"][0]["code"] == "N"


def sixty_recipes() -> list[Any]:
    """60 catalogue entries, made from the registered four (not registered themselves)."""
    bases = all_recipes()
    sections = list(SECTIONS)
    outputs = ["sft", "preference", "classification", "conversation", "sft+preference"]
    out = []
    for i in range(1, 61):
        base = bases[i % len(bases)]
        meta = dataclasses.replace(
            base.meta,
            id=f"entry_{i}",
            name=f"Entry {i}",
            entry=i,
            section=sections[i % len(sections)],
            output=outputs[i % len(outputs)],
            needs=(Need("EMB", "pool"),) if i % 3 == 0 else (),
        )
        out.append(type(f"Entry{i}", (base,), {"meta": meta}))
    return out


def test_the_catalogue_holds_sixty_entries_without_a_query_per_card(
    cast: Cast, monkeypatch: Any, django_assert_max_num_queries: Any
) -> None:
    from generation.runs import presenters

    monkeypatch.setattr(presenters, "all_recipes", sixty_recipes)
    client = logged_in(cast)
    with django_assert_max_num_queries(4):
        html = runs_page(cast, client=client)
    assert len(card_ids(html)) == 60 and "60 of 60 entries" in html
    assert section_ids(html) == list(SECTIONS)
    with django_assert_max_num_queries(4):
        filtered = runs_page(cast, query="?need=EMB&output=sft", client=client)
    assert len(card_ids(filtered)) == len(
        [i for i in range(1, 61) if i % 3 == 0 and i % 5 in (0, 4)]
    )

"""The recipe catalogue: grouped by the seed list's sections, filtered by output and need."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.test import Client

from generation.recipes.kit.recipe import BEYOND, SECTIONS, Need, entry_order
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


# Every recipe we ship, with its METHODS.md entry and seed-list section (METHODS.md §1).
SHIPPED = {
    "star": (1, "self_play"),
    "lmsi": (2, "self_play"),
    "spin": (3, "self_play"),
    "spag": (4, "self_play"),
    "auto_if": (5, "self_play"),
    "i_sheep": (6, "self_play"),
    "supergen": (7, "distillation"),
    "zerogen": (8, "distillation"),
    "symbolic_kd": (9, "distillation"),
    "orca2": (10, "distillation"),
    "evol_instruct": (11, "evolution"),
    "auto_evol_instruct": (12, "evolution"),
    "tag_evol": (13, "evolution"),
    "camel": (14, "multi_agent"),
    "self_talk": (15, "multi_agent"),
    "matrix": (16, "multi_agent"),
    "gra": (17, "multi_agent"),
    "constitutional_ai": (18, "preference"),
    "self_rewarding": (19, "preference"),
    "meta_rewarding": (20, "preference"),
    "spa": (21, "preference"),
    "synpo": (22, "preference"),
    "udasa": (23, "preference"),
    "self_instruct": (24, "other"),
    "self_guide": (25, "other"),
    "codeclm": (26, "other"),
    "cot_self_instruct": (27, "other"),
    "datagen": (28, "other"),
    "toolalpaca": (42, "tools"),
    "toolformer": (43, "tools"),
    "gorilla": (44, "tools"),
    "apigen": (45, "tools"),
    "gpt4tools": (46, "tools"),
    "toolgrad": (47, "tools"),
    "kg2tool": (48, "tools"),
    "apigen_mt": (49, "agent_dialogue"),
    "magnet": (50, "agent_dialogue"),
    "tora": (51, "agent_flows"),
    "agentinstruct": (52, "agent_flows"),
    "agenttuning": (53, "agent_flows"),
    "re_rest": (54, "agent_flows"),
    "rest_react": (55, "agent_flows"),
    "codeact": (56, "environments"),
    "pc_agent_e": (57, "environments"),
    "magpie": ("B1", "beyond"),
    "ultrafeedback": ("B2", "beyond"),
    "backtranslation": ("B3", "beyond"),
}


def expected(output: str = "", need: str = "", *, by_section: bool = True) -> list[str]:
    """The recipe ids a filter keeps, read from the recipes' Meta (not from describe())."""
    kept = []
    for r in all_recipes():
        codes = {n.code for n in r.meta.needs}
        if output and output not in r.meta.output.split("+"):
            continue
        if (need == "none" and codes) or (need not in ("", "none") and need not in codes):
            continue
        kept.append(r.meta)
    order = list(SECTIONS)
    if by_section:
        return [
            m.id for m in sorted(kept, key=lambda m: (order.index(m.section), entry_order(m.entry)))
        ]
    return [m.id for m in sorted(kept, key=lambda m: entry_order(m.entry))]


def test_every_shipped_recipe_is_registered_under_its_methods_entry_and_section() -> None:
    registered = {r.meta.id: (r.meta.entry, r.meta.section) for r in all_recipes()}
    assert registered == SHIPPED


def test_the_catalogue_groups_recipes_by_section_in_the_seed_lists_order(cast: Cast) -> None:
    html = runs_page(cast)
    sections = section_ids(html)
    assert sections == [s for s in SECTIONS if s in {sec for _, sec in SHIPPED.values()}]
    assert sections[:3] == ["self_play", "distillation", "evolution"]
    assert SECTIONS["distillation"] in html
    empty = set(SECTIONS) - {sec for _, sec in SHIPPED.values()}
    assert not [s for s in empty if SECTIONS[s] in html]  # empty sections are hidden
    seed_list = sum(1 for entry, _ in SHIPPED.values() if isinstance(entry, int))
    beyond = len(SHIPPED) - seed_list
    assert f"{seed_list} of 60 entries" in html
    assert (f"+ {beyond} beyond the seed list" in html) == bool(beyond)
    assert card_ids(html) == expected()
    assert card_ids(html)[:3] == ["star", "lmsi", "spin"]
    assert card_ids(html)[-3:] == ["magpie", "ultrafeedback", "backtranslation"]


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
    shown = card_ids(html)
    assert shown == expected("preference")
    assert {"constitutional_ai", "self_rewarding"} <= set(shown) and "star" not in shown
    assert section_ids(html) == [s for s in SECTIONS if s in {SHIPPED[r][1] for r in shown}]
    assert "preference" in section_ids(html) and "distillation" not in section_ids(html)
    assert f"{len(shown)} of {len(SHIPPED)} recipes match" in html
    assert '<option value="preference" selected>' in html
    assert card_ids(runs_page(cast, query="?output=classification")) == expected("classification")
    assert "supergen" in expected("classification")


def test_the_catalogue_filters_by_need(cast: Cast) -> None:
    for need in ("LP", "N", "PLP", "MM", "none"):
        assert card_ids(runs_page(cast, query=f"?need={need}")) == expected(need=need), need
    assert "constitutional_ai" in expected(need="LP") and "lmsi" in expected(need="N")
    assert "self_instruct" in expected(need="none") and "i_sheep" in expected(need="PLP")


def test_filters_that_match_nothing_say_so(cast: Cast) -> None:
    html = runs_page(cast, query="?output=tool_trajectory&need=VLM")
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
    assert card_ids(fragment) == expected(need="LP") and "<table" not in fragment


def test_the_api_lists_every_recipe_and_filters_by_output_and_need(
    cast: Cast, api_client_for: Any
) -> None:
    client = api_client_for(cast.viewer)

    def ids(query: str) -> list[str]:
        return [r["id"] for r in client.get(f"/api/v1/recipes{query}").json()]

    assert ids("") == expected(by_section=False) and len(ids("")) == len(SHIPPED)
    assert ids("?output=preference") == expected("preference", by_section=False)
    assert ids("?output=sft&need=LP") == expected("sft", "LP", by_section=False)
    assert ids("?need=lp") == expected(need="LP", by_section=False)
    assert ids("?need=none") == expected(need="none", by_section=False)
    assert ids("?output=conversation") == expected("conversation", by_section=False)
    assert {"camel", "self_talk"} <= set(ids("?output=conversation"))
    for recipe in client.get("/api/v1/recipes").json():
        entry, section = SHIPPED[recipe["id"]]
        assert recipe["methods_entry"] == entry and recipe["section"] == section
        assert recipe["section_title"] == SECTIONS[section]
        assert recipe["roles"] and recipe["deviations"], recipe["id"]
        assert recipe["inputs"] or not recipe["needs_seed_set"], recipe["id"]
        for need in recipe["needs"]:
            assert {"code", "why", "fallback", "role"} <= set(need)


def sixty_recipes() -> list[Any]:
    """60 catalogue entries, made from the registered recipes (not registered themselves)."""
    bases = all_recipes()
    sections = [s for s in SECTIONS if s != BEYOND]
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
    assert section_ids(html) == [s for s in SECTIONS if s != BEYOND]
    with django_assert_max_num_queries(4):
        filtered = runs_page(cast, query="?need=EMB&output=sft", client=client)
    assert len(card_ids(filtered)) == len(
        [i for i in range(1, 61) if i % 3 == 0 and i % 5 in (0, 4)]
    )

"""The conformance kit: every registered recipe, checked the same way.

Adding a recipe to the registry puts it under these tests (with its case in
tests/generation/cases/): its description, its templates, its run form and the API, a tiny
run, a run cut into 1 s slices against a slow endpoint, an endpoint whose answers are all
unusable, and one whose answers are all the same.
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape

from curation.samples.models import Sample
from curation.seeds.kinds import KINDS
from curation.seeds.services import import_seed_set
from generation.recipes.kit.recipe import SECTIONS
from generation.recipes.registry import all_recipes, get_recipe, templates_of
from generation.runs.models import Run, RunItem, RunStatus
from tests.generation.conformance_cases import CASES, templates_named_in
from tests.generation.test_runs import api

RECIPES = sorted(r.meta.id for r in all_recipes())
EXCEPTION = re.compile(r"^[A-Z]\w*(Error|Exception)\b")


def case_seeds(bench: Any, recipe_id: str) -> Any:
    case = CASES[recipe_id]
    if case.seeds is None:
        return bench.seed_set
    return import_seed_set(bench.owner, bench.project, name="Case", data=case.seeds)


def start(bench: Any, recipe_id: str, target: int, **kwargs: Any) -> Run:
    params = {**CASES[recipe_id].params, **kwargs.pop("params", {})}
    seed_set = case_seeds(bench, recipe_id)
    return bench.start(recipe_id, target, seed_set=seed_set, params=params, **kwargs)


def test_every_registered_recipe_has_a_conformance_case() -> None:
    assert set(RECIPES) == set(CASES)


@pytest.mark.parametrize("recipe_id", RECIPES)
def test_the_description_is_complete_and_valid(recipe_id: str) -> None:
    cls = type(get_recipe(recipe_id))
    info = json.loads(json.dumps(cls.describe()))
    entry = info["methods_entry"]
    if isinstance(entry, str):  # beyond the seed list: B1, B2, … in their own section
        assert entry[0] == "B" and entry[1:].isdigit() and info["section"] == "beyond"
    else:
        assert 1 <= entry <= 60 and info["section"] != "beyond"
    assert info["section"] in SECTIONS
    assert info["summary"] and info["steps"] and isinstance(info["deviations"], list)
    assert set(info["inputs"]) <= set(KINDS)
    assert "policy" in [r["name"] for r in info["roles"]]
    assert cls.Params.model_validate(info["defaults"]).model_dump() == info["defaults"]
    for step in info["steps"]:
        assert step["primitive"] and step["name"] and step["description"]


@pytest.mark.parametrize("recipe_id", RECIPES)
def test_every_template_the_recipe_renders_exists(recipe_id: str) -> None:
    recipe = get_recipe(recipe_id)
    named = templates_named_in(inspect.getsource(inspect.getmodule(type(recipe))))  # type: ignore[arg-type]
    assert named, "the recipe renders no template?"
    assert named <= set(templates_of(recipe_id)), named - set(templates_of(recipe_id))


def form_value(value: Any) -> Any:
    """A param as a browser posts its field: checkboxes, lines for lists, JSON for dicts."""
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, list):
        return "\n".join(map(str, value))
    return json.dumps(value) if isinstance(value, dict) else value


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("recipe_id", RECIPES)
def test_the_run_form_and_the_api_start_it_on_the_seeds_it_reads(
    bench: Any, fake_llm: Any, recipe_id: str
) -> None:
    CASES[recipe_id].script(fake_llm)
    seed_set, params = case_seeds(bench, recipe_id), CASES[recipe_id].params
    client = Client()
    client.force_login(bench.owner)
    url = f"/projects/{bench.project.pk}/runs/new/"
    html = client.get(f"{url}?recipe={recipe_id}").content.decode()
    assert f'<option value="{seed_set.pk}"' in html
    for deviation in type(get_recipe(recipe_id)).deviations:
        assert escape(deviation) in html
    # Posted as a browser would: the form's defaults, with the case's params over them.
    values = {**type(get_recipe(recipe_id)).describe()["defaults"], **params}
    fields = {f"p_{k}": form_value(v) for k, v in values.items()}
    posted = client.post(
        url,
        {"recipe": recipe_id, "seed_set": seed_set.pk, "role_policy": bench.endpoint.pk}
        | {"target_count": 1}
        | fields,
    )
    errors = re.findall(r"(?:error-box|errorlist)[^>]*>(.*?)</", posted.content.decode(), re.S)
    assert posted.status_code == 302, errors
    body = {"recipe": recipe_id, "seed_set": seed_set.pk, "params": params, "target_count": 1}
    created = api(bench.owner).post(
        f"/api/v1/projects/{bench.project.pk}/runs", body, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    runs = Run.objects.filter(recipe_id=recipe_id)
    assert runs.count() == 2
    assert {r.status for r in runs} == {RunStatus.COMPLETED}, [r.last_error for r in runs]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("recipe_id", RECIPES)
def test_a_tiny_run_completes(bench: Any, fake_llm: Any, recipe_id: str) -> None:
    CASES[recipe_id].script(fake_llm)
    run = start(bench, recipe_id, 3)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.produced == 3 == Sample.objects.filter(run=run).count()
    assert run.failed == 0
    for sample in Sample.objects.filter(run=run):
        templates = {c["template"] for c in sample.extra["lineage"]["calls"] if c["template"]}
        assert templates <= set(templates_of(recipe_id))
        assert sample.tokens_in > 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("recipe_id", RECIPES)
def test_a_run_in_short_slices_resumes_mid_item_and_ends_with_exactly_its_target(
    bench: Any, fake_llm: Any, settings: Any, recipe_id: str
) -> None:
    settings.SEEDBED_RUN_SLICE_SECONDS = 0.5
    settings.SEEDBED_RUN_GRACE_SECONDS = 0.1
    fake_llm.latency = 0.25
    CASES[recipe_id].script(fake_llm)
    target = 10
    run = start(bench, recipe_id, target)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.slices >= 2
    samples = Sample.objects.filter(run=run)
    keys = list(samples.values_list("work_key", flat=True))
    assert len(keys) == target == run.produced and len(set(keys)) == target
    # Items cut off by a slice boundary resumed from their journal, not from zero.
    assert run.state["kit"]["replayed_steps"] > 0, (
        run.slices,
        list(RunItem.objects.filter(run=run).values_list("work_key", "outcome", "checkpoint")),
    )
    # The samples' tokens come from the run's calls, each stored once.
    tokens = sum(s.tokens_in + s.tokens_out for s in samples)
    assert 0 < tokens <= run.tokens_in + run.tokens_out


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("recipe_id", RECIPES)
def test_an_endpoint_whose_answers_are_all_unusable_fails_the_run_within_the_bound(
    bench: Any, fake_llm: Any, recipe_id: str
) -> None:
    fake_llm.script(r".*", "")
    limit = 12
    run = start(bench, recipe_id, 5, futility_limit=limit)
    assert run.status == RunStatus.FAILED
    assert "in a row produced no sample" in run.last_error
    assert "Top filter reasons:" in run.last_error
    finished = RunItem.objects.filter(run=run, outcome__in=["filtered", "failed"]).count()
    endpoint_slots = 2 * bench.endpoint.max_concurrency
    assert finished <= limit + endpoint_slots


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("recipe_id", RECIPES)
def test_identical_answers_and_the_target_trim_end_the_run_by_a_rule(
    bench: Any, fake_llm: Any, recipe_id: str
) -> None:
    fake_llm.script(r".*", "Score: 3\nAnswer: (A)\nNot Equal\n10. Describe the same thing.")
    run = start(bench, recipe_id, 4, futility_limit=30)
    assert run.status in (RunStatus.COMPLETED, RunStatus.FAILED)
    assert not EXCEPTION.match(run.last_error), run.last_error
    assert run.produced <= 4
    assert Sample.objects.filter(run=run).count() == run.produced

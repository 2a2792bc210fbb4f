"""TOOLSIM (METHODS.md #32): cache, then implementation, then an LLM checked against the
tool's response schema; identical bytes for the same call; one row for a racing call."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import jsonschema
import pytest

from generation.llm import EndpointConfig, LLMClient
from generation.recipes.base import SeedRow
from generation.recipes.kit.item import Fatal, Item
from generation.runs.models import ToolResponse
from generation.tools.cache import canonical, key_of
from generation.tools.definitions import Implementation, ToolDef
from generation.tools.simulator import (
    Respond,
    Simulator,
    ToolResult,
    call_tool,
    client_responder,
    simulator_for,
)
from tests.factories import ProjectFactory, RunFactory
from tests.tools.toolsim import WEATHER, WEATHER_SCHEMA, DbThread, Host

pytestmark = pytest.mark.django_db(transaction=True)
T = TypeVar("T")
INTEGER = {"type": "integer"}
ADD = ToolDef(
    name="add",
    description="Adds two integers.",
    parameters={"type": "object", "properties": {"a": INTEGER, "b": INTEGER}},
    implementation=Implementation(
        "def add(a, b):\n    return {'sum': a + b, 'note': 'é'}\n", "add"
    ),
)


@pytest.fixture
def db_thread() -> Iterator[DbThread]:
    db = DbThread()
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def project_id() -> int:
    return int(ProjectFactory().pk)


def serve(
    fake: Any, db: DbThread, project_id: int, tools: list[ToolDef],
    go: Callable[[Simulator, Respond], Awaitable[T]],
) -> T:  # fmt: skip
    async def main() -> T:
        async with LLMClient(EndpointConfig(base_url=fake.base_url, max_retries=1)) as llm:
            return await go(Simulator(project_id, db.in_db, tools), client_responder(llm))

    return asyncio.run(main())


def call(fake: Any, db: DbThread, project_id: int, tools: list[ToolDef],
         *calls: tuple[str, Any]) -> list[ToolResult]:  # fmt: skip
    async def go(sim: Simulator, respond: Respond) -> list[ToolResult]:
        return [await sim.call(name, args, respond) for name, args in calls]

    return serve(fake, db, project_id, tools, go)


def rows(project_id: int) -> list[tuple[str, str, str]]:
    return list(
        ToolResponse.objects.filter(project_id=project_id)
        .order_by("id")
        .values_list("tool", "arguments", "source")
    )


def test_the_same_call_twice_is_served_from_the_cache_with_identical_bytes(
    fake_llm: Any, db_thread: DbThread, project_id: int
) -> None:
    oslo = ("get_weather", {"city": "Oslo", "units": "metric"})
    first, second = call(fake_llm, db_thread, project_id, [WEATHER], oslo, oslo)
    assert first.text.encode() == second.text.encode()
    assert (first.source, first.origin) == ("simulated", "simulated")
    assert (second.source, second.origin) == ("cache", "simulated")
    assert fake_llm.count() == 1
    stored = ToolResponse.objects.get(project_id=project_id)
    assert stored.response.encode() == first.text.encode()
    # A new simulator (the next slice) serves the same bytes without the model.
    (third,) = call(fake_llm, db_thread, project_id, [WEATHER], oslo)
    assert third.text.encode() == first.text.encode() and fake_llm.count() == 1


def test_an_unseen_call_gets_a_simulated_response_that_validates_against_the_schema(
    fake_llm: Any, db_thread: DbThread, project_id: int
) -> None:
    (result,) = call(fake_llm, db_thread, project_id, [WEATHER], ("get_weather", {"city": "Lima"}))
    assert result.ok and result.source == "simulated"
    jsonschema.validate(result.value(), WEATHER_SCHEMA)
    request = fake_llm.requests[0]
    assert request["response_format"]["json_schema"]["schema"] == WEATHER_SCHEMA
    prompt = request["messages"][-1]["content"]
    assert "Current weather for a city." in prompt and '{"city":"Lima"}' in prompt


def test_without_a_response_schema_a_simulated_response_must_be_a_json_object(
    fake_llm: Any, db_thread: DbThread, project_id: int
) -> None:
    bare = ToolDef(name="lookup", description="Looks a word up.")
    fake_llm.script(r".", '"just a string"', json=True)
    (result,) = call(fake_llm, db_thread, project_id, [bare], ("lookup", {"word": "x"}))
    assert not result.ok and result.error.startswith("no valid simulated response")
    assert fake_llm.requests[0]["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert rows(project_id) == []


def test_an_invalid_simulated_response_is_an_error_and_is_not_cached(
    fake_llm: Any, db_thread: DbThread, project_id: int
) -> None:
    warm = {"city": "Oslo", "temperature_c": "warm", "conditions": "rain"}
    fake_llm.script(r".", json.dumps(warm), json=True)
    oslo = ("get_weather", {"city": "Oslo"})
    first, second = call(fake_llm, db_thread, project_id, [WEATHER], oslo, oslo)
    assert not first.ok and first.source == "simulated" and "temperature_c" in first.error
    assert json.loads(first.text) == {"error": first.error}
    assert rows(project_id) == []
    assert not second.ok and fake_llm.count() == 4  # each call: the reply and one repair


def test_our_own_schema_check_rejects_what_a_responder_lets_through(
    db_thread: DbThread, project_id: int
) -> None:
    async def lax(messages: list[dict[str, Any]], schema: Any) -> Any:
        return {"city": "Oslo", "temperature_c": 3, "conditions": "snow"}  # not in the enum

    async def go() -> ToolResult:
        sim = Simulator(project_id, db_thread.in_db, [WEATHER])
        return await sim.call("get_weather", {"city": "Oslo"}, lax)

    result = asyncio.run(go())
    assert not result.ok and "conditions" in result.error and rows(project_id) == []


def test_an_implementation_is_used_before_the_llm(
    fake_llm: Any, db_thread: DbThread, project_id: int
) -> None:
    first, second = call(
        fake_llm, db_thread, project_id, [ADD], ("add", {"a": 2, "b": 3}), ("add", {"b": 3, "a": 2})
    )
    assert (first.source, first.text) == ("implementation", '{"sum":5,"note":"é"}')
    assert (second.source, second.origin, second.text) == ("cache", "implementation", first.text)
    assert fake_llm.count() == 0
    assert rows(project_id) == [("add", '{"a":2,"b":3}', "implementation")]


def test_an_implementation_that_raises_is_an_error_the_llm_does_not_paper_over(
    fake_llm: Any, db_thread: DbThread, project_id: int
) -> None:
    code = "def div(a, b):\n    return a / b\n"
    broken = ToolDef(name="div", implementation=Implementation(code, "div"))
    (result,) = call(fake_llm, db_thread, project_id, [broken], ("div", {"a": 1, "b": 0}))
    assert not result.ok and result.source == "implementation"
    assert result.error.startswith("ZeroDivisionError")
    assert fake_llm.count() == 0 and rows(project_id) == []


def test_canonical_arguments_make_one_entry_of_key_order(
    fake_llm: Any, db_thread: DbThread, project_id: int
) -> None:
    first, second = call(
        fake_llm, db_thread, project_id, [WEATHER],
        ("get_weather", {"city": "Oslo", "units": "metric"}),
        ("get_weather", {"units": "metric", "city": "Oslo"}),
    )  # fmt: skip
    assert (first.source, second.source) == ("simulated", "cache")
    assert first.arguments == second.arguments == '{"city":"Oslo","units":"metric"}'
    assert len(rows(project_id)) == 1


def test_the_canonical_form_sorts_every_level_keeps_unicode_and_refuses_what_json_cannot() -> None:
    assert canonical({"b": 2, "a": 1}) == canonical({"a": 1, "b": 2}) == '{"a":1,"b":2}'
    assert canonical({"z": {"y": [3, 1], "x": "é"}}) == '{"z":{"x":"é","y":[3,1]}}'
    assert canonical({"n": 1}) != canonical({"n": 1.0})  # documented: different calls
    assert key_of('{"a":1}') == key_of('{"a":1}') and len(key_of("{}")) == 64
    for bad in ([1, 2], None, {"x": float("nan")}, {"x": {1, 2}}):
        with pytest.raises(ValueError):
            canonical(bad)


def test_two_concurrent_identical_calls_leave_one_row_and_get_the_same_bytes(
    fake_llm: Any, project_id: int
) -> None:
    """Two slices (own simulators, own DB connections) miss the cache together."""
    counter = itertools.count()
    fake_llm.hold_until_in_flight = 2  # both model calls in flight at once: both missed
    fake_llm.script(
        r"get_weather",
        lambda body: {"city": "Oslo", "temperature_c": next(counter), "conditions": "rain"},
        json=True,
    )
    left, right = DbThread(), DbThread()

    async def main() -> list[ToolResult]:
        async with LLMClient(EndpointConfig(base_url=fake_llm.base_url, max_retries=1)) as llm:
            respond = client_responder(llm)
            sims = [Simulator(project_id, db.in_db, [WEATHER]) for db in (left, right)]
            return list(
                await asyncio.gather(
                    *(s.call("get_weather", {"city": "Oslo"}, respond) for s in sims)
                )
            )

    try:
        a, b = asyncio.run(main())
    finally:
        left.close()
        right.close()
    assert fake_llm.count() == 2 and fake_llm.max_in_flight == 2
    assert a.text.encode() == b.text.encode()
    assert sorted([a.source, b.source]) == ["cache", "simulated"]
    assert a.origin == b.origin == "simulated"
    assert len(rows(project_id)) == 1
    assert ToolResponse.objects.get().response == a.text


def test_recorded_responses_are_served_as_given_and_shown_to_the_simulator(
    fake_llm: Any, db_thread: DbThread, project_id: int
) -> None:
    recorded_text = '{"city": "Oslo", "temperature_c": -3.5, "conditions": "cloudy"}'
    tool = ToolDef(
        name=WEATHER.name,
        description=WEATHER.description,
        parameters=WEATHER.parameters,
        response_schema=WEATHER_SCHEMA,
        recorded=(({"city": "Oslo"}, recorded_text),),
    )
    oslo, bergen = ("get_weather", {"city": "Oslo"}), ("get_weather", {"city": "Bergen"})
    hit, simulated = call(fake_llm, db_thread, project_id, [tool], oslo, bergen)
    assert (hit.source, hit.origin, hit.text) == ("cache", "recorded", recorded_text)
    assert simulated.source == "simulated"
    prompt = fake_llm.requests[0]["messages"][-1]["content"]
    assert "Real responses of this tool" in prompt and recorded_text in prompt
    assert [r[2] for r in rows(project_id)] == ["recorded", "simulated"]


def test_an_unknown_tool_or_arguments_that_are_no_object_are_refused(
    fake_llm: Any, db_thread: DbThread, project_id: int
) -> None:
    unknown, broken = call(
        fake_llm, db_thread, project_id, [WEATHER], ("nope", {}), ("get_weather", ["Oslo"])
    )
    assert (unknown.ok, unknown.source) == (False, "refused") and "get_weather" in unknown.error
    assert (broken.ok, broken.source) == (False, "refused") and "not a JSON object" in broken.error
    assert fake_llm.count() == 0 and rows(project_id) == []


def test_call_tool_is_one_journaled_step_and_a_replayed_item_does_not_call_again(
    fake_llm: Any, db_thread: DbThread, project_id: int
) -> None:
    async def main(journal: list[dict[str, Any]] | None) -> tuple[list[ToolResult], Item[Any]]:
        async with LLMClient(EndpointConfig(base_url=fake_llm.base_url, max_retries=1)) as llm:
            it: Item[Any] = Item(Host(llm, db_thread), "k", None, None, journal=journal)
            sim = Simulator(project_id, db_thread.in_db, [WEATHER, ADD])
            weather = await call_tool(it, sim, "get_weather", {"city": "Oslo"})
            added = await call_tool(it, sim, "add", {"a": 1, "b": 1})
            await it.gen(messages=[{"role": "user", "content": "And now?"}])
            return [weather, added], it

    (weather, added), it = asyncio.run(main(None))
    assert [e["op"] for e in it.journal] == ["tool", "tool", "gen"]
    (record,) = it.journal[0]["calls"]
    assert [record[k] for k in ("op", "role", "template")] == ["tool", "tool_simulator", "simulate"]
    assert record["model"] == "model-of-tool_simulator" and record["version"] == "builtin:v1"
    assert it.journal[1]["calls"] == []  # the implementation: no model
    assert fake_llm.count() == 2

    ToolResponse.objects.all().delete()  # the replay must not even read the cache
    (again_weather, again_added), replayed = asyncio.run(main(it.journal))
    assert (again_weather, again_added) == (weather, added)
    assert replayed.replayed == 3 and fake_llm.count() == 2 and rows(project_id) == []


def test_a_slices_simulator_serves_the_runs_project_and_its_tool_spec_seeds(
    fake_llm: Any, db_thread: DbThread
) -> None:
    run = RunFactory()
    payload = {
        "type": "function",
        "function": {"name": "echo", "description": "", "parameters": {"type": "object"}},
        "meta": {"implementation": "def echo(**kw):\n    return kw"},
    }
    seeds = [SeedRow(1, "tool_spec", payload, "echo"), SeedRow(2, "instruction", {}, "x")]

    async def main() -> ToolResult:
        async with LLMClient(EndpointConfig(base_url=fake_llm.base_url, max_retries=1)) as llm:
            host = Host(llm, db_thread)
            host.run_id, host.seeds = run.pk, seeds
            sim = await simulator_for(host)
            assert list(sim.tools) == ["echo"]
            it: Item[Any] = Item(host, "k", None, None)
            return await call_tool(it, sim, "echo", {"x": [1, "é"]})

    result = asyncio.run(main())
    assert (result.source, result.text) == ("implementation", '{"x":[1,"é"]}')
    assert rows(run.project_id) == [("echo", '{"x":[1,"é"]}', "implementation")]


def test_it_tool_asks_the_runs_simulator_and_a_recipe_without_one_ends_the_run(
    fake_llm: Any, db_thread: DbThread, project_id: int
) -> None:
    async def main(with_simulator: bool) -> ToolResult:
        async with LLMClient(EndpointConfig(base_url=fake_llm.base_url, max_retries=1)) as llm:
            host = Host(llm, db_thread)
            if with_simulator:
                host.tool_simulator = Simulator(project_id, db_thread.in_db, [WEATHER, ADD])  # type: ignore[attr-defined]
            it: Item[Any] = Item(host, "k", None, None)
            return await it.tool("add", {"a": 2, "b": 3})

    result = asyncio.run(main(True))
    assert (result.ok, result.source) == (True, "implementation")
    assert result.text == '{"sum":5,"note":"é"}'
    with pytest.raises(Fatal, match="needs a tool simulator"):
        asyncio.run(main(False))

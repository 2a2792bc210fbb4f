"""Simulator.register: a tool made during a run (ToolAlpaca's generated docs) joins the
slice's simulator; the same definition again is harmless, another one under its name is not."""

from __future__ import annotations

import asyncio
from typing import Any

import jsonschema
import pytest

from generation.llm import EndpointConfig, LLMClient
from generation.tools.definitions import ToolDef
from generation.tools.simulator import Simulator, ToolResult, client_responder
from tests.factories import ProjectFactory
from tests.tools.toolsim import WEATHER, WEATHER_SCHEMA, DbThread


async def _no_db(fn: Any, *args: Any) -> Any:
    raise AssertionError("no query expected")


def test_a_registered_tool_is_known_and_registering_it_again_changes_nothing() -> None:
    sim = Simulator(1, _no_db, [])
    sim.register(WEATHER)
    sim.register(ToolDef(**{**WEATHER.__dict__}))  # an equal definition, another object
    assert list(sim.tools) == ["get_weather"] and sim.tools["get_weather"] == WEATHER


def test_another_definition_under_a_registered_name_is_refused_and_the_first_stays() -> None:
    sim = Simulator(1, _no_db, [WEATHER])
    other = ToolDef(name="get_weather", description="Weather, differently documented.")
    with pytest.raises(ValueError, match="already defined differently"):
        sim.register(other)
    assert sim.tools["get_weather"] is WEATHER


def test_an_unregistered_tool_is_still_refused_without_a_query() -> None:
    sim = Simulator(1, _no_db, [])

    async def refused() -> ToolResult:
        async def respond(*_: Any) -> Any:
            raise AssertionError("no model expected")

        return await sim.call("get_weather", {"city": "Oslo"}, respond)

    result = asyncio.run(refused())
    assert (result.ok, result.source) == (False, "refused") and "tools: none" in result.error


@pytest.mark.django_db(transaction=True)
def test_a_tool_registered_after_the_start_is_simulated_under_its_response_schema(
    fake_llm: Any,
) -> None:
    project_id = int(ProjectFactory().pk)
    db = DbThread()

    async def main() -> ToolResult:
        async with LLMClient(EndpointConfig(base_url=fake_llm.base_url, max_retries=1)) as llm:
            sim = Simulator(project_id, db.in_db, [])
            sim.register(WEATHER)
            return await sim.call("get_weather", {"city": "Lima"}, client_responder(llm))

    try:
        result = asyncio.run(main())
    finally:
        db.close()
    assert result.ok and result.source == "simulated"
    jsonschema.validate(result.value(), WEATHER_SCHEMA)
    assert fake_llm.requests[0]["response_format"]["json_schema"]["schema"] == WEATHER_SCHEMA

"""What the tool-simulator tests share: a DB thread like a slice's, a host, a weather tool."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections

from generation.llm import LLMClient
from generation.tools.definitions import ToolDef
from tests.generation.test_sim import Host as SimHost

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature_c": {"type": "number"},
        "conditions": {"type": "string", "enum": ["sunny", "cloudy", "rain"]},
    },
    "required": ["city", "temperature_c", "conditions"],
}
WEATHER = ToolDef(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "units": {"type": "string"}},
        "required": ["city"],
    },
    response_schema=WEATHER_SCHEMA,
)


class DbThread:
    """One thread for every query, as a slice's driver has (its own DB connection)."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1)

    async def in_db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def close(self) -> None:
        self.pool.submit(connections.close_all).result()
        self.pool.shutdown()


class Host(SimHost):
    """A slice's host (tests/generation/test_sim.py) whose queries go to a DB thread."""

    def __init__(self, llm: LLMClient, db: DbThread) -> None:
        super().__init__(llm)
        self.db = db

    async def in_db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.db.in_db(fn, *args)

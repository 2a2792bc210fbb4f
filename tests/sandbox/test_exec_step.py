"""`it.exec`: the kit's EXEC step runs code in the sandbox, journaled like every step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from generation.recipes.kit.item import Item
from generation.sandbox import Result, pool

pytestmark = pytest.mark.usefixtures("isolation")
DOUBLE = "def solve(n):\n    return n * 2\n"


class Host:
    """An item's slice, without models: EXEC needs none."""

    run_id, target, seeds, prompts = 1, 1, [], {}

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.pools: dict[str, Any] = {}
        self.admitted: list[Any] = []

    def client(self, role: str) -> Any:
        raise AssertionError("EXEC calls no model")

    def seed(self, seed_id: int) -> Any:
        raise KeyError(seed_id)

    async def in_db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)


def execute(journal: list[dict[str, Any]] | None, *programs: str) -> tuple[Item[Any], list[Result]]:
    async def go() -> tuple[Item[Any], list[Result]]:
        it: Item[Any] = Item(Host(), "k", None, None, journal=journal)
        results = [await it.exec(code, {"n": 21}, entry="solve", cpu_s=1) for code in programs]
        return it, results

    return asyncio.run(go())


def test_exec_returns_the_programs_result_and_journals_it() -> None:
    it, [result] = execute(None, DOUBLE)
    assert result.ok and result.value == 42
    assert [e["op"] for e in it.journal] == ["exec"] and it.journal[0]["v"]["value"] == 42
    assert it.dirty and it.replayed == 0


def test_a_resumed_item_reads_exec_back_without_running_the_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, [result] = execute(None, DOUBLE)

    def refuse(*args: Any) -> Result:
        raise AssertionError("a replayed EXEC ran its code again")

    monkeypatch.setattr(pool.Sandbox, "call", refuse)
    again, [replayed] = execute(first.journal, DOUBLE)
    assert replayed == result and again.replayed == 1


def test_a_hostile_program_in_exec_is_a_result_and_the_item_goes_on() -> None:
    it, [spin, after] = execute(None, "def solve(n):\n    while True:\n        pass\n", DOUBLE)
    assert not spin.ok and spin.limit == "cpu" and spin.error == "sandbox limit: cpu"
    assert after.ok and after.value == 42
    assert len(it.journal) == 2


def test_an_unknown_limit_is_the_recipes_error() -> None:
    async def go() -> None:
        await Item(Host(), "k", None, None).exec(DOUBLE, {"n": 1}, entry="solve", timeout=1)

    with pytest.raises(TypeError, match="unknown sandbox limits: timeout"):
        asyncio.run(go())

"""The demo env tasks (curation/demo/data/env_tasks.jsonl) import as env_task seeds and are
solvable: a right trajectory of each succeeds in its env, a wrong one fails."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from curation.seeds.parsing import parse_seed_file
from generation.envs import Env, ShellEnv, SQLiteEnv, Verdict, WorldEnv

DEMO = Path(__file__).parents[2] / "curation/demo/data/env_tasks.jsonl"
TASKS = {i: s.payload for i, s in enumerate(parse_seed_file(DEMO.read_bytes()))}
ENVS: dict[str, type[Env]] = {"sqlite": SQLiteEnv, "shell": ShellEnv, "world": WorldEnv}

Actions = list[tuple[str, dict[str, Any]]]


def sql(statement: str, answer: str = "done") -> Actions:
    return [("execute_sql", {"sql": statement}), ("finish", {"answer": answer})]


def sh(command: str, answer: str = "done") -> Actions:
    return [("run_shell", {"command": command}), ("finish", {"answer": answer})]


def phone(*actions: tuple[str, dict[str, Any]], answer: str = "done") -> Actions:
    return [*actions, ("finish", {"answer": answer})]


def send(number: str) -> tuple[str, dict[str, Any]]:
    return ("send_message", {"phone_number": number, "content": "Running ten minutes late."})


def remind(date: str) -> tuple[str, dict[str, Any]]:
    return ("add_reminder", {"content": "Call the dentist", "date": date})


ON = [("set_setting", {"name": "low_battery_mode", "value": False}),
      ("set_setting", {"name": "cellular", "value": True})]  # fmt: skip

# Per demo line: (a right trajectory, a wrong one).
PLAYS: dict[int, tuple[Actions, Actions]] = {
    0: (sql("SELECT count(*) FROM books WHERE year < 1950", "3"), sql("SELECT 1", "2")),
    1: (sql("SELECT title FROM books WHERE author LIKE '%Austen'", "Emma, Persuasion"),
        sql("SELECT title FROM books", "Emma")),
    2: (sql("SELECT sum(amount) FROM orders WHERE customer='Ana'", "65"),
        sql("SELECT amount FROM orders WHERE customer='Ana'", "40")),
    3: (sql("UPDATE orders SET status='shipped' WHERE id=3"),
        sql("UPDATE orders SET status='shipped'")),
    4: (sql("UPDATE books SET copies = 4 WHERE id = 3"),
        sql("UPDATE books SET copies = copies + 2")),
    5: (sh("grep -c ERROR app.log", "2"), sh("wc -l < app.log", "5")),
    6: (sh("mkdir backup && cp notes.txt backup/"), sh("mkdir backup")),
    7: (sh("ls docs/*.txt | wc -l", "3"), sh("find docs -name '*.txt' | wc -l", "4")),
    8: (phone(*ON, send("+1 555 0101")), phone(*ON, send("+1 555 0102"))),
    9: (phone(remind("2026-12-02")), phone(remind("2026-12-01"))),
    10: (phone(("search_messages", {"query": "Ben"}), answer="At the cafe."),
         phone(("search_messages", {"query": "6"}), answer="At the park.")),
}  # fmt: skip


def play(env: str, task: dict[str, Any], actions: Actions) -> Verdict:
    async def episode() -> Verdict:
        agent = ENVS[env]()
        await agent.reset(task)
        for name, arguments in actions:
            await agent.step(name, arguments)
        return await agent.check()

    return asyncio.run(episode())


def test_the_demo_holds_select_and_update_databases_shell_tasks_and_phone_tasks() -> None:
    kinds = [(t["env"], t["task"].get("type", "")) for t in TASKS.values()]
    assert {k for k in kinds if k[0] == "sqlite"} == {("sqlite", ""), ("sqlite", "update")}
    assert [e for e, _ in kinds].count("shell") == 3 and [e for e, _ in kinds].count("world") == 3
    assert set(PLAYS) == set(TASKS)


@pytest.mark.parametrize("line", sorted(TASKS))
def test_each_demo_task_is_solved_by_a_right_trajectory_and_failed_by_a_wrong_one(
    line: int,
) -> None:
    payload = TASKS[line]
    right, wrong = PLAYS[line]
    passed = play(payload["env"], payload["task"], right)
    failed = play(payload["env"], payload["task"], wrong)
    assert passed.success and passed.score == 1.0, passed.reasons
    assert not failed.success, failed.reasons


def test_a_message_to_the_wrong_contact_sets_off_a_minefield_and_scores_zero() -> None:
    payload = TASKS[8]
    verdict = play(payload["env"], payload["task"], PLAYS[8][1])
    assert verdict.score == 0.0 and verdict.details["minefields"] == 1

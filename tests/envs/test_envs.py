"""Each env's checker: a right and a wrong trajectory, and the ways an agent can misbehave."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from generation.envs import DocSearchEnv, Env, ShellEnv, SQLiteEnv, Verdict, WorldEnv
from generation.recipes.base import SeedRow

T = TypeVar("T")


def go(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def play(env: Env, task: dict[str, Any], *actions: tuple[str, Any]) -> tuple[list[Any], Verdict]:
    async def episode() -> tuple[list[Any], Verdict]:
        seen = [await env.reset(task)]
        for name, arguments in actions:
            seen.append(await env.step(name, arguments))
        return seen, await env.check()

    return go(episode())


PETS = {
    "setup_sql": "CREATE TABLE pets (name TEXT, kind TEXT, age INT);"
    "INSERT INTO pets VALUES ('Rex','dog',3),('Tom','cat',5),('Kit','cat',1);",
    "question": "Which cats are there?",
    "gold_sql": "SELECT name FROM pets WHERE kind = 'cat'",
}


# --- SQLite (AgentBench-DB) -------------------------------------------------------------


def test_sqlite_a_right_answer_passes_and_a_wrong_one_fails() -> None:
    seen, right = play(
        SQLiteEnv(), PETS,
        ("execute_sql", {"sql": "SELECT name FROM pets WHERE kind='cat'"}),
        ("finish", {"answer": "Kit, Tom"}),
    )  # fmt: skip
    _, wrong = play(SQLiteEnv(), PETS, ("finish", {"answer": "Rex"}))

    assert "CREATE TABLE pets" in seen[0].text and "Tom" in seen[1].text
    assert right.success and right.score == 1.0
    assert not wrong.success and wrong.score == 0.0


def test_sqlite_a_change_is_checked_against_the_gold_statements_tables() -> None:
    task = {**PETS, "type": "update", "gold_sql": "UPDATE pets SET age = age + 1 WHERE kind='cat'"}

    _, right = play(SQLiteEnv(), task,
                    ("execute_sql", {"sql": "UPDATE pets SET age = age + 1 WHERE kind = 'cat'"}),
                    ("finish", {"answer": "done"}))  # fmt: skip
    _, wrong = play(SQLiteEnv(), task,
                    ("execute_sql", {"sql": "UPDATE pets SET age = age + 1"}),
                    ("finish", {"answer": "done"}))  # fmt: skip

    assert right.success
    assert not wrong.success and wrong.details["differ"] == ["pets"]


def test_sqlite_bad_sql_is_an_observation_and_the_state_survives_it() -> None:
    env = SQLiteEnv()
    seen, _ = play(
        env, PETS,
        ("execute_sql", {"sql": "DROP TABLE nope"}),
        ("execute_sql", {"sql": "SELECT 1; SELECT 2"}),
        ("execute_sql", {"sql": "ATTACH DATABASE '/tmp/x.db' AS x"}),
        ("execute_sql", {"sql": "SELECT count(*) FROM pets"}),
    )  # fmt: skip

    assert [o.error for o in seen[1:]] == [True, True, True, False]
    assert "no such table" in seen[1].text
    assert seen[4].text.splitlines()[-1] == "3"


# --- shell (AgentBench-OS) ----------------------------------------------------------------


LOGS = {
    "question": "How many lines of app.log mention ERROR?",
    "files": {"app.log": "INFO up\nERROR disk\nINFO ok\nERROR net\n", "old/": None},
    "answer": "2",
    "check": 'test "$ANSWER" = "2" && test ! -e secret.txt',
}


def test_shell_a_right_answer_passes_the_answer_and_the_check_script() -> None:
    seen, right = play(ShellEnv(), LOGS, ("run_shell", {"command": "grep -c ERROR app.log"}),
                       ("finish", {"answer": "2"}))  # fmt: skip
    _, wrong = play(ShellEnv(), LOGS, ("run_shell", {"command": "wc -l app.log"}),
                    ("finish", {"answer": "4"}))  # fmt: skip

    assert seen[1].text.startswith("2") and "[exit 0]" in seen[1].text
    assert right.success and len(right.reasons) == 2
    assert not wrong.success


def test_shell_files_persist_between_commands_and_the_check_sees_them() -> None:
    env = ShellEnv()
    _, verdict = play(
        env, LOGS,
        ("run_shell", {"command": "echo hidden > secret.txt"}),
        ("run_shell", {"command": "cat secret.txt"}),
        ("finish", {"answer": "2"}),
    )  # fmt: skip

    assert env.files["secret.txt"] == "hidden\n" and "old/" in env.files
    assert not verdict.success  # the check script forbids the file the agent left
    assert "check script fails" in verdict.reasons[-1]


def test_shell_a_command_that_never_ends_times_out_as_an_observation() -> None:
    seen, _ = play(ShellEnv(), LOGS, ("run_shell", {"command": "while true; do :; done"}))

    assert seen[1].error and "timed out" in seen[1].text and "[exit 124]" in seen[1].text


def test_shell_has_no_network() -> None:
    seen, _ = play(ShellEnv(), LOGS, ("run_shell", {
        "command": "python3 -c \"import socket; socket.create_connection(('127.0.0.1', 8000), 2)\""
    }))  # fmt: skip

    assert seen[1].error and "[exit 0]" not in seen[1].text


# --- Python world state (ToolSandbox) -----------------------------------------------------


MESSAGE_ANA = {
    "world": "phone",
    "question": "Text Ana that I am running late.",
    "milestones": [
        {"state": "settings.low_battery_mode", "equals": False},
        {"state": "settings.cellular", "equals": True},
        {"call": "send_message", "args": {"phone_number": "+1 555 0101"}},
    ],
    "minefields": [{"call": "send_message", "args": {"phone_number": "+1 555 0102"}}],
}
TURN_ON = [
    ("set_setting", {"name": "low_battery_mode", "value": False}),
    ("set_setting", {"name": "cellular", "value": True}),
]


def test_world_a_right_trajectory_meets_every_milestone_in_order() -> None:
    seen, verdict = play(
        WorldEnv(), MESSAGE_ANA,
        ("send_message", {"phone_number": "+1 555 0101", "content": "late"}),  # no service yet
        ("search_contacts", {"name": "ana"}),
        *TURN_ON,
        ("send_message", {"phone_number": "+1 555 0101", "content": "Running late!"}),
        ("finish", {"answer": "Sent."}),
    )  # fmt: skip

    assert seen[1].error and "cellular" in seen[1].text
    assert verdict.success and verdict.score == 1.0


def test_world_milestones_out_of_order_or_missing_score_their_share() -> None:
    _, partial = play(WorldEnv(), MESSAGE_ANA, *TURN_ON, ("finish", {"answer": "ok"}))

    assert not partial.success and partial.score == pytest.approx(2 / 3)


def test_world_a_minefield_scores_zero_even_when_every_milestone_is_met() -> None:
    _, verdict = play(
        WorldEnv(), MESSAGE_ANA,
        *TURN_ON,
        ("send_message", {"phone_number": "+1 555 0102", "content": "late"}),  # the wrong person
        ("send_message", {"phone_number": "+1 555 0101", "content": "late"}),
        ("finish", {"answer": "Sent."}),
    )  # fmt: skip

    assert verdict.score == 0.0 and not verdict.success
    assert "minefield" in verdict.reasons[-1]


def test_world_unknown_actions_and_bad_arguments_are_observations() -> None:
    seen, _ = play(
        WorldEnv(), MESSAGE_ANA,
        ("delete_everything", {}),
        ("set_setting", {"name": "cellular"}),
        ("set_setting", "not json"),
    )  # fmt: skip

    assert [o.error for o in seen[1:]] == [True, True, True]
    assert "unknown action" in seen[1].text and "bad arguments" in seen[2].text


# --- document search ------------------------------------------------------------------------


DOCS = [
    SeedRow(1, "document", {"title": "Bees", "text": "Honey bees dance to show where food is. "
            "A colony has one queen.", "source": ""}, "Bees"),
    SeedRow(2, "document", {"title": "Tides", "text": "Tides follow the moon.", "source": ""},
            "Tides"),
]  # fmt: skip


def test_docsearch_a_cited_right_answer_passes_and_a_made_up_quote_does_not_count() -> None:
    task = {"question": "How many queens has a bee colony?", "answer": "one"}

    seen, right = play(DocSearchEnv(DOCS), task,
                       ("search", {"query": "bee colony queen"}),
                       ("open", {"doc_id": "doc1"}),
                       ("quote", {"doc_id": "doc1", "text": "A colony has one  queen."}),
                       ("finish", {"answer": "one"}))  # fmt: skip
    _, wrong = play(DocSearchEnv(DOCS), task,
                    ("quote", {"doc_id": "doc1", "text": "A colony has five queens."}),
                    ("finish", {"answer": "five"}))  # fmt: skip

    assert seen[1].text.startswith("doc1: Bees") and "page 1 of 1" in seen[2].text
    assert not seen[3].error
    assert right.success and right.score == 1.0
    assert not wrong.success and wrong.score == 0.0


def test_docsearch_without_a_gold_answer_every_quote_must_be_found() -> None:
    task = {"question": "What do tides follow?"}
    _, good = play(DocSearchEnv(DOCS), task,
                   ("quote", {"doc_id": "doc2", "text": "Tides follow the moon"}),
                   ("finish", {"answer": "The moon."}))  # fmt: skip
    _, bad = play(DocSearchEnv(DOCS), task,
                  ("quote", {"doc_id": "doc2", "text": "Tides follow the sun"}),
                  ("finish", {"answer": "The sun."}))  # fmt: skip

    assert good.success and not bad.success


def test_an_env_refuses_a_task_it_cannot_check_and_actions_after_finish() -> None:
    with pytest.raises(ValueError, match="needs an 'answer' or a 'check'"):
        go(ShellEnv().reset({"question": "?"}))
    with pytest.raises(ValueError, match="setup_sql fails"):
        go(SQLiteEnv().reset({"setup_sql": "CREATE TABLE", "gold_sql": "SELECT 1"}))
    seen, _ = play(WorldEnv(), MESSAGE_ANA, ("finish", {"answer": "x"}), *TURN_ON)
    assert seen[1].done and seen[2].error and "has ended" in seen[2].text

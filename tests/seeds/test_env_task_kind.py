"""Env task seeds (AgentTuning, Re-ReST): {env, task} records for the envs of generation/envs,
checked at import for what each env's start needs, with a sentence per broken line."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from curation.seeds.kinds import KINDS, env_task
from curation.seeds.kinds.detect import detect
from curation.seeds.parsing import ParsedSeed, SeedImportError, parse_seed_file
from curation.seeds.services import import_seed_set
from generation.envs import ShellEnv, SQLiteEnv, WorldEnv, world
from tests.factories import ProjectFactory, UserFactory

DEMO = Path(__file__).parents[2] / "curation/demo/data/env_tasks.jsonl"
SQL = {"setup_sql": "CREATE TABLE t (x INT);", "gold_sql": "SELECT x FROM t", "question": "x?"}
SHELL = {"question": "How many files?", "files": {"a.txt": "a", "empty/": None}, "answer": 1}
WORLD = {"question": "Turn wifi off.", "milestones": [{"state": "settings.wifi", "equals": False}]}


def jsonl(*records: Any) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def one(record: dict[str, Any], **options: Any) -> ParsedSeed:
    [seed] = parse_seed_file(jsonl(record), **options)
    return seed


def refused(record: dict[str, Any]) -> SeedImportError:
    with pytest.raises(SeedImportError) as caught:
        parse_seed_file(jsonl({"env": "sqlite", "task": SQL}, record), kind="env_task")
    return caught.value


@pytest.mark.parametrize(("env", "task"), [("sqlite", SQL), ("shell", SHELL), ("world", WORLD)])
def test_an_env_and_a_task_object_are_detected_and_kept_as_uploaded(
    env: str, task: dict[str, Any]
) -> None:
    record = {"env": env, "task": task, "source": "ours"}
    seed = one(record)
    assert seed.kind == "env_task" and detect(record) == "env_task"
    assert seed.payload == {"env": env, "task": task, "question": task["question"],
                            "meta": {"source": "ours"}}  # fmt: skip
    assert seed.text == f"[{env}] {task['question']}"


def test_a_seed_question_is_the_text_and_fills_a_task_without_one() -> None:
    task = {k: v for k, v in SQL.items() if k != "question"}
    seed = one({"env": "SQLite", "task": task, "question": "Which x are there?"})
    assert seed.payload["env"] == "sqlite"
    assert seed.payload["question"] == "Which x are there?"
    assert seed.payload["task"]["question"] == "Which x are there?"
    kept = one({"env": "sqlite", "task": SQL, "question": "In words: x?"})
    assert kept.payload["task"]["question"] == "x?" and kept.text == "[sqlite] In words: x?"


@pytest.mark.parametrize(
    ("env", "task", "message"),
    [
        ("web", SQL, "'env' names 'web', which is not an env; envs: sqlite, shell"),
        ("sqlite", "SELECT 1", "'task' must be the env's task object, got a string"),
        ("sqlite", {}, "got an empty object"),
        ("sqlite", {**SQL, "gold_sql": " "}, "sqlite task: needs non-empty 'gold_sql'"),
        ("sqlite", {"question": "q"}, "needs non-empty 'setup_sql' and 'gold_sql'"),
        ("sqlite", {**SQL, "type": "drop"}, "'type' must be one of select, update"),
        ("shell", {"question": "q", "files": {}}, "shell task: needs an 'answer' or a 'check'"),
        ("shell", {**SHELL, "files": {"../x": "a"}}, "file path '../x' must be relative"),
        ("shell", {**SHELL, "files": {"a": 1}}, "'files' maps paths to text"),
        ("shell", {**SHELL, "check": ["test"]}, "'check' must be a shell script"),
        ("world", {"question": "q"}, "world task: needs at least one milestone"),
        ("world", {**WORLD, "world": "car"}, "unknown world 'car'; worlds: phone"),
        ("world", {**WORLD, "milestones": [{"x": 1}]}, "milestones[0] must be an object with"),
        ("world", {**WORLD, "minefields": {"call": "x"}}, "'minefields' must be a list"),
        ("world", {"milestones": WORLD["milestones"]}, "an env task needs a question"),
    ],
)
def test_a_broken_task_is_refused_with_its_line_and_a_sentence(
    env: str, task: Any, message: str
) -> None:
    error = refused({"env": env, "task": task})
    assert message in str(error), str(error)
    assert error.line == 2 and str(error).startswith("line 2: ")


@pytest.mark.parametrize(
    ("env", "task"),
    [
        (SQLiteEnv, {"question": "q", "gold_sql": "SELECT 1"}),
        (ShellEnv, {"question": "q"}),
        (WorldEnv, {"question": "q", "milestones": []}),
    ],
)
def test_what_import_refuses_the_env_itself_refuses(env: Any, task: dict[str, Any]) -> None:
    name = env.name
    with pytest.raises(SeedImportError):
        one({"env": name, "task": task})
    with pytest.raises(ValueError, match=name):
        import asyncio

        asyncio.run(env().reset(task))


def test_the_env_names_and_worlds_are_those_of_generation_envs() -> None:
    assert set(env_task.ENVS) == {SQLiteEnv.name, ShellEnv.name, WorldEnv.name}
    assert set(env_task.WORLDS) == set(world.WORLDS)
    assert set(env_task.SQL_TYPES) >= {"select", "update", "insert", "delete"}
    assert "answer_contains" in inspect.getsource(world)


def test_the_kind_is_registered_with_an_example_that_imports() -> None:
    spec = KINDS["env_task"]
    assert spec.label == "Environment task" and spec.required == ("env", "task")
    assert one(dict(spec.example)).payload["env"] == "sqlite"


@pytest.mark.django_db
def test_the_demo_file_imports_as_an_env_task_set() -> None:
    owner: Any = UserFactory()
    project: Any = ProjectFactory()
    seed_set = import_seed_set(owner, project, name="Env", data=DEMO.read_bytes())
    assert seed_set.kinds == ["env_task"]
    assert seed_set.seeds.filter(kind="env_task").count() == 11
    envs = sorted(s.payload["env"] for s in seed_set.seeds.all())
    assert envs == ["shell"] * 3 + ["sqlite"] * 5 + ["world"] * 3

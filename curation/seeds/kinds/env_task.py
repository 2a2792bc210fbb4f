"""Environment tasks: one task for an env of generation/envs (AgentTuning, Re-ReST, …).

A record is `{"env": "sqlite" | "shell" | "world", "task": {…}}`, with an optional
`"question"` (the seed's text; default: the task's own question). The task is the env's task
object, checked here statically for the keys that env's `start` needs, so a broken task is
refused at import with its line rather than at run time; the sandbox is not run here.

The env names and what each needs mirror generation/envs (curation may not import it; a
test keeps the two in step): sqlite needs setup_sql and gold_sql; shell an answer or a
check script; world a list of milestones (and a known world).
"""

from __future__ import annotations

from typing import Any

from curation.seeds.kinds.common import ParsedSeed, Record, json_type, short
from curation.seeds.kinds.spec import FieldSpec, KindSpec

ENVS = ("sqlite", "shell", "world")
SQL_TYPES = ("select", "update", "insert", "delete")
WORLDS = ("phone",)
PREDICATES = ("call", "state", "answer_contains")
MAX_QUESTION = 4000

SPEC = KindSpec(
    id="env_task",
    label="Environment task",
    description="One task for an agent environment: 'env' names it (sqlite: a database and "
    "a gold query; shell: files, an expected answer and/or a check script; world: the phone "
    "world with milestones and minefields) and 'task' is the env's task object. An optional "
    "'question' is the seed's text and, when the task has none, the question the agent sees.",
    fields=(
        FieldSpec("env", "The environment: sqlite, shell or world.", required=True),
        FieldSpec("task", "The env's task object (see docs/envs.md).", required=True),
        FieldSpec("question", "Optional: the task's question in words."),
    ),
    payload=("env", "task", "question"),
    example={
        "env": "sqlite",
        "task": {
            "setup_sql": "CREATE TABLE pets (name TEXT, kind TEXT);"
            "INSERT INTO pets VALUES ('Rex','dog'),('Tom','cat');",
            "question": "Which pets are cats?",
            "gold_sql": "SELECT name FROM pets WHERE kind = 'cat'",
        },
    },
    detected_by="'env' with a 'task' object",
)


def parse(rec: Record) -> ParsedSeed:
    env = rec.scalar("env", required=True).strip().lower()
    if env not in ENVS:
        raise rec.error(
            f"field {rec.label('env')} names {short(env)}, which is not an env; envs: "
            f"{', '.join(ENVS)}",
            "env",
        )
    raw = rec.get("task")
    if not isinstance(raw, dict) or not raw:
        got = "an empty object" if isinstance(raw, dict) else json_type(raw)
        raise rec.error(f"field {rec.label('task')} must be the env's task object, got {got}",
                        "task")  # fmt: skip
    task = dict(raw)
    problem = CHECKS[env](task)
    if problem:
        raise rec.error(f"{env} task: {problem}", "task")
    question = rec.text("question").strip()
    own = task.get("question")
    if own is not None and not isinstance(own, str):
        raise rec.error(f"{env} task: 'question' must be a string, got {json_type(own)}", "task")
    question = question or (own or "").strip()
    if not question:
        raise rec.error("an env task needs a question: give 'question' or task.question", "task")
    if len(question) > MAX_QUESTION:
        raise rec.error(f"the question is {len(question):,} characters; at most {MAX_QUESTION:,}",
                        "question")  # fmt: skip
    if not (own or "").strip():
        task["question"] = question  # what the agent is shown
    payload = {"env": env, "task": task, "question": question, "meta": rec.meta()}
    return ParsedSeed("env_task", payload, f"[{env}] {question}", rec.loc.number)


def _text(task: dict[str, Any], key: str) -> bool:
    value = task.get(key)
    return isinstance(value, str) and bool(value.strip())


def _sqlite(task: dict[str, Any]) -> str:
    missing = [k for k in ("setup_sql", "gold_sql") if not _text(task, k)]
    if missing:
        return f"needs non-empty {' and '.join(repr(k) for k in missing)} strings"
    kind = task.get("type", "select")
    if not isinstance(kind, str) or kind.lower() not in SQL_TYPES:
        return f"'type' must be one of {', '.join(SQL_TYPES)}, got {short(kind)}"
    return ""


def _shell(task: dict[str, Any]) -> str:
    answer, check = task.get("answer"), task.get("check")
    if answer in (None, "") and not _text(task, "check"):
        return "needs an 'answer' or a 'check' script"
    if isinstance(answer, dict | list):
        return f"'answer' must be a string or a number, got {json_type(answer)}"
    if check is not None and not isinstance(check, str):
        return f"'check' must be a shell script (a string), got {json_type(check)}"
    files = task.get("files", {})
    if not isinstance(files, dict) or not all(
        isinstance(v, str) or v is None for v in files.values()
    ):
        return "'files' maps paths to text (or null for a directory)"
    for path in files:
        if path.startswith("/") or ".." in path.split("/"):
            return f"file path {short(path)} must be relative, inside the working directory"
    if task.get("setup") is not None and not isinstance(task["setup"], str):
        return f"'setup' must be a shell script (a string), got {json_type(task['setup'])}"
    return ""


def _world(task: dict[str, Any]) -> str:
    world = task.get("world", "phone")
    if world not in WORLDS:
        return f"unknown world {short(world)}; worlds: {', '.join(WORLDS)}"
    for key in ("milestones", "minefields"):
        value = task.get(key, [])
        if not isinstance(value, list):
            return f"{key!r} must be a list of predicates, got {json_type(value)}"
        for i, pred in enumerate(value):
            if not isinstance(pred, dict) or not any(p in pred for p in PREDICATES):
                return (
                    f"{key}[{i}] must be an object with one of {', '.join(PREDICATES)}, "
                    f"got {short(pred)}"
                )
            if key == "minefields" and "answer_contains" in pred:
                return f"minefields[{i}]: 'answer_contains' is for milestones only"
    if not task.get("milestones"):
        return "needs at least one milestone"
    if task.get("state") is not None and not isinstance(task["state"], dict):
        return f"'state' must be an object of overrides, got {json_type(task['state'])}"
    return ""


CHECKS = {"sqlite": _sqlite, "shell": _shell, "world": _world}

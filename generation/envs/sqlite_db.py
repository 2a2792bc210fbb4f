"""A SQLite database env, AgentBench-DB style: the agent issues SQL, the checker compares.

Task: `{"setup_sql": "CREATE TABLE …; INSERT …;", "question": "…", "gold_sql": "…"}`, with
`"type"` one of `select` (default) or `update`/`insert`/`delete`.
- select: the agent's final answer must hold the gold query's values (cells compared as
  numbers to 2 decimals when they parse, else case- and space-insensitive text; order-insensitive
  unless the gold query has an ORDER BY), as AgentBench compares answer lists;
- a change: every table's rows after the agent's statements must equal the rows after the
  gold statement on a fresh copy (AgentBench's table hash, compared as sorted rows).

Every statement, the task's set-up and the gold query included, runs in the sandbox on a
fresh in-memory database rebuilt from the state (`iterdump` SQL), one statement a step.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from generation.envs.base import Env, Observation, Verdict, clip, tool
from generation.sandbox import Limits, run

MAX_ROWS = 50  # rows an agent is shown per query
MAX_STATE = 512 * 1024  # characters of SQL dump the state may hold
LIMITS = Limits.of(wall_s=5, memory_mb=256)

PROGRAM = r"""
import sqlite3

def main(dump, sql, max_rows):
    con = sqlite3.connect(":memory:")
    if dump:
        con.executescript(dump)
    out = {"columns": [], "rows": [], "truncated": False, "error": None, "changes": 0}
    if sql is not None:
        before = con.total_changes
        try:
            cur = con.execute(sql)
            if cur.description:
                out["columns"] = [d[0] for d in cur.description]
                rows = cur.fetchmany(max_rows + 1)
                out["truncated"] = len(rows) > max_rows
                out["rows"] = [list(r) for r in rows[:max_rows]]
            con.commit()
        except sqlite3.Warning as exc:
            out["error"] = str(exc)
        except sqlite3.Error as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
        out["changes"] = con.total_changes - before
    out["dump"] = "\n".join(con.iterdump())
    names = con.execute("SELECT name FROM sqlite_master WHERE type='table' "
                        "AND name NOT LIKE 'sqlite_%' ORDER BY name")
    out["tables"] = {t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall()))
                     for (t,) in names.fetchall()}
    return out
"""


async def execute(dump: str, sql: str | None) -> dict[str, Any]:
    """Run one statement on the database `dump` describes; raises ValueError on a broken run."""
    result = await run(PROGRAM, {"dump": dump, "sql": sql, "max_rows": MAX_ROWS}, entry="main",
                       limits=LIMITS)  # fmt: skip
    if not result.ok or not isinstance(result.value, dict):
        raise ValueError(result.error or "the database step returned nothing")
    return result.value


class SQLiteEnv(Env):
    name = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.dump = ""

    def actions(self) -> list[dict[str, Any]]:
        return [
            tool(
                "execute_sql",
                "Run one SQL statement (SQLite) on the database and see its result.",
                sql={"type": "string", "description": "One SQLite statement."},
            )
        ]

    async def start(self, task: dict[str, Any]) -> Observation:
        setup = task.get("setup_sql")
        if not isinstance(setup, str) or not isinstance(task.get("gold_sql"), str):
            raise ValueError("sqlite: a task needs 'setup_sql' and 'gold_sql' strings")
        try:
            self.dump = (await execute(setup, None))["dump"]
        except ValueError as exc:
            raise ValueError(f"sqlite: the task's setup_sql fails: {exc}") from exc
        schema = "\n".join(line for line in self.dump.splitlines() if line.startswith("CREATE"))
        return Observation(clip(f"{task.get('question', '')}\n\nThe database:\n{schema}"))

    async def act(self, name: str, arguments: dict[str, Any]) -> Observation:
        sql = arguments.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            return Observation("Error: execute_sql needs a 'sql' string.", error=True)
        try:
            out = await execute(self.dump, sql)
        except ValueError as exc:
            return Observation(f"Error: {exc}", error=True)
        if out["error"]:
            return Observation(f"Error: {out['error']}", error=True)
        if len(out["dump"]) > MAX_STATE:
            return Observation("Error: the database would grow too large; not applied.", error=True)
        self.dump = out["dump"]
        if out["columns"]:
            lines = [" | ".join(out["columns"])] + [" | ".join(map(str, r)) for r in out["rows"]]
            more = f"\n… (more than {MAX_ROWS} rows)" if out["truncated"] else ""
            return Observation(clip("\n".join(lines) + more), data={"rows": out["rows"]})
        return Observation(
            f"OK, {out['changes']} row(s) changed.", data={"changes": out["changes"]}
        )

    async def judge(self) -> Verdict:
        kind = str(self.task.get("type", "select")).lower()
        gold = await execute(
            (await execute(str(self.task["setup_sql"]), None))["dump"], str(self.task["gold_sql"])
        )
        if gold["error"]:
            return Verdict(False, 0.0, (f"the gold query fails: {gold['error']}",))
        if kind == "select":
            if self.answer is None:
                return Verdict(False, 0.0, ("no final answer",))
            want = [c for row in gold["rows"] for c in row]
            ordered = bool(re.search(r"\border\s+by\b", str(self.task["gold_sql"]), re.I))
            ok = same_values(answer_values(self.answer), want, ordered=ordered)
            reason = (
                "the answer holds the gold values"
                if ok
                else "the answer differs from the gold result"
            )
            return Verdict(ok, 1.0 if ok else 0.0, (reason,), {"gold": want, "answer": self.answer})
        mine = (await execute(self.dump, None))["tables"]
        ok = mine == gold["tables"]
        differ = sorted(
            t for t in set(mine) | set(gold["tables"]) if mine.get(t) != gold["tables"].get(t)
        )
        reason = (
            "the tables match the gold statement's" if ok else f"tables differ: {', '.join(differ)}"
        )
        return Verdict(ok, 1.0 if ok else 0.0, (reason,), {"differ": differ})

    def save(self) -> Any:
        return self.dump

    def load(self, state: Any) -> None:
        self.dump = str(state)


def answer_values(answer: str) -> list[str]:
    """The values in a final answer: a JSON-ish list, comma/newline separated, or one value."""
    text = answer.strip().strip("[]()")
    parts = re.split(r"\s*[,\n;]\s*", text) if text else []
    return [p.strip().strip("'\"") for p in parts if p.strip().strip("'\"")]


def _norm(value: Any) -> str:
    text = str(value).strip()
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return " ".join(text.lower().split())
    # Numbers to 2 decimals (an agent writes 2.33 for AVG's 2.3333…), trailing zeros gone.
    return format(round(number, 2).normalize(), "f")


def same_values(got: list[str], want: list[Any], *, ordered: bool) -> bool:
    a, b = [_norm(v) for v in got], [_norm(v) for v in want]
    return a == b if ordered else sorted(a) == sorted(b)

"""Magnet: the four demo tools; each call gets fresh values, the user states every value it
is not told to withhold, the teacher makes the calls its hint names (right or wrong)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.generation.cases import Case, counter, words

DEMO = Path(__file__).parents[3] / "curation/demo/data/tools.jsonl"
TOOLS = [json.loads(line) for line in DEMO.read_text().splitlines()]
SEEDS = "\n".join(json.dumps(t) for t in TOOLS).encode()
CALL = r"You write one concrete function call"
USER = r"Write the next message of a user talking"
ANSWER = r"left out `"
IRRELEVANT = r"none of these tools can do"
TEACHER = r"^Please help"
CALL_LINE = re.compile(r"^- (\w+)\((\{.*\})\) -> ", re.M)
_WITHHELD = re.compile(r"Leave out the value of `\w+` \((.*)\): do not say it")
_HINT = re.compile(r"in order, then answer from their results:\n(\[.*\])")


def fresh_arguments(tool: dict[str, Any], k: int) -> dict[str, Any]:
    """Distinct values per call and per parameter (a withheld one is never said twice)."""
    props = tool["function"]["parameters"]["properties"]
    kinds = {"integer": lambda i: 10 * k + i, "number": lambda i: k + 0.5 + i,
             "string": lambda i: words(10 * k + i, 3)}  # fmt: skip
    return {name: kinds.get(schema.get("type"), lambda i: k + i)(i)
            for i, (name, schema) in enumerate(props.items())}  # fmt: skip


def user(body: dict[str, Any]) -> str:
    prompt = body["messages"][-1]["content"]
    withheld = _WITHHELD.search(prompt)
    values = [v for _name, args in CALL_LINE.findall(prompt) for v in json.loads(args).values()]
    said = [str(v) for v in values if not (withheld and str(v) == str(json.loads(withheld[1])))]
    return "Please help: " + "; ".join(said) + "."


def answer(body: dict[str, Any]) -> str:
    found = re.search(r"as exactly (.*)\. Write only", body["messages"][-1]["content"])
    return f"Please help: it is {json.loads(found[1]) if found else ''}."


def teacher(body: dict[str, Any]) -> Any:
    system = body["messages"][0]["content"]
    if body["messages"][-1]["role"] == "tool":
        return "Done: " + body["messages"][-1]["content"]
    wanted = _HINT.search(system)
    if not wanted:
        return "Could you tell me the missing value? I cannot do that with my tools otherwise."
    calls = [{"name": c["name"], "arguments": c["arguments"]} for c in json.loads(wanted[1])]
    return {"content": None, "tool_calls": calls}


def script(fake: Any, *, teach: Any = teacher, speak: Any = user) -> None:
    n = counter()
    fake.script(CALL, lambda body: {"content": None, "tool_calls": [
        {"name": body["tools"][0]["function"]["name"],
         "arguments": fresh_arguments(body["tools"][0], n())}]})  # fmt: skip
    fake.script(USER, speak)
    fake.script(ANSWER, answer)
    fake.script(IRRELEVANT, lambda _b: f"Please help: book a table at {words(n(), 2)}.")
    fake.script(TEACHER, teach)


CASE = Case(script, {"path_length": 3, "op_rate": 0.5}, SEEDS)

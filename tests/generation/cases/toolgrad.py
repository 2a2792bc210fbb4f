"""ToolGrad: three executable toy APIs; each forward step calls the first candidate with fresh
values, every step is kept, the request states the values it is asked to, the judge agrees."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.generation.cases import Case, counter, words

DEMO = Path(__file__).parents[3] / "curation/demo/data/tools.jsonl"
TOOLS = {t["function"]["name"]: t for t in map(json.loads, DEMO.read_text().splitlines())}
TOY = [TOOLS[n] for n in ("add", "celsius_to_fahrenheit", "word_count")]
SEEDS = "\n".join(json.dumps(t) for t in TOY).encode()
FORWARD = r"building a tool-use workflow one call at a time"
BACKWARD = r"write feedback for the next step"
QUERY = r"Write the request a real person would type"
ANSWER = r"To answer, these tool calls were made"
JUDGE = r"You check training data for tool use"
_VALUES = re.compile(r"each exactly as written:\n((?:- .*\n)+)")


def calling(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A scripted forward reply: one native tool call."""
    return {"content": None, "tool_calls": [{"name": name, "arguments": arguments}]}


def values_asked(body: dict[str, Any]) -> list[str]:
    """The values the query prompt says the request must contain."""
    found = _VALUES.search(body["messages"][-1]["content"])
    return [line[2:] for line in found.group(1).splitlines()] if found else []


def fresh_arguments(tool: dict[str, Any], k: int) -> dict[str, Any]:
    kinds = {"integer": k, "number": k + 0.5, "string": words(k, 3)}
    props = tool["function"]["parameters"]["properties"]
    return {name: kinds.get(schema.get("type"), k) for name, schema in props.items()}


def script(fake: Any) -> None:
    n = counter()

    def forward(body: dict[str, Any]) -> dict[str, Any]:
        tool = body["tools"][0]
        return calling(tool["function"]["name"], fresh_arguments(tool, n()))

    fake.script(FORWARD, forward)
    fake.script(BACKWARD, "The call works and extends the workflow.\nDecision: keep")
    fake.script(QUERY, lambda body: "Please work with " + "; ".join(values_asked(body)) + ".")
    fake.script(ANSWER, lambda _body: f"Here it is: {words(n(), 5)}.")
    fake.script(JUDGE, "The request matches the chain.\nScore: 5")


CASE = Case(script, {"steps": 2, "batch_size": 3, "judge_samples": 2}, SEEDS)

"""ToolAlpaca: the demo tool briefs; each doc has one `lookup(query)` function, the user
agent asks fresh requests, the assistant calls lookup once and then answers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.generation.cases import Case, counter, words

SEEDS = (Path(__file__).parents[3] / "curation/demo/data/tool_briefs.jsonl").read_bytes()
DOCUMENT = r"Write the API documentation of a web API"
INSTRUCTIONS = r"Write \d+ different requests"
ASSISTANT = r"User request: "
SIMULATE = r"You are the tool executor"
_API = re.compile(r"^API: (.+)$", re.M)


def lookup_doc(body: dict[str, Any]) -> str:
    """One documented function, named after nothing but the API in the prompt."""
    found = _API.search(body["messages"][-1]["content"])
    api = found.group(1) if found else "api"
    return json.dumps(
        {
            "description": f"Look things up in {api}.",
            "functions": [
                {
                    "name": "lookup",
                    "description": f"Look a query up in {api}.",
                    "parameters": {
                        "type": "object",
                        "properties": {"query": {"type": "string", "description": "What"}},
                        "required": ["query"],
                    },
                    "response": {
                        "type": "object",
                        "properties": {"answer": {"type": "string"}},
                        "required": ["answer"],
                    },
                }
            ],
        }
    )


def script(fake: Any) -> None:
    count = counter()

    def instructions(_body: dict[str, Any]) -> str:
        return "\n".join(f"{i}. Please find {words(count(), 5)} for me." for i in (1, 2, 3))

    def assistant(body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        request = prompt.split(ASSISTANT, 1)[1].splitlines()[0]
        if re.search(r"^Observation:", prompt, re.M):
            return f"Thought: I now know the answer.\nFinal Answer: Here it is: {request}"
        call = json.dumps({"query": request})
        return f"Thought: I should look it up.\nAction: lookup\nAction Input: {call}"

    fake.script(DOCUMENT, lookup_doc)
    fake.script(INSTRUCTIONS, instructions)
    fake.script(ASSISTANT, assistant)
    fake.script(SIMULATE, lambda _b: {"answer": words(count(), 4)}, json=True)


CASE = Case(script, {"instructions_per_tool": 1, "max_steps": 2}, SEEDS)

"""Gorilla: the demo API docs; each generation reply holds as many distinct, valid calls of
the API whose doc the prompt shows as it asks for."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from tests.generation.cases import Case, counter, words

SEEDS = (Path(__file__).parents[3] / "curation/demo/data/api_docs.jsonl").read_bytes()
DOCS = {d["function"]["name"]: d["function"] for d in map(json.loads, SEEDS.decode().splitlines())}
_COUNT = re.compile(r"Write (\d+) new pairs")
_API = re.compile(r'documentation of one API:\n\{"name": "([^"]+)"')


def valid_call(name: str, n: int) -> str:
    """A call that passes: every required argument, an enum's first value."""
    schema = DOCS[name]["parameters"]
    args = []
    for param in schema["required"]:
        prop = schema["properties"][param]
        value = prop["enum"][0] if "enum" in prop else words(n, 3)
        args.append(f"{param}={value!r}")
    return f"{name}({', '.join(args)})"


def api_in(body: dict[str, Any]) -> str:
    found = _API.search(body["messages"][-1]["content"])
    return found.group(1) if found else ""


def script(fake: Any) -> None:
    count = counter()

    def reply(body: dict[str, Any]) -> str:
        time.sleep(fake.latency / 2)  # one long call an item: two waves outlast a slice
        name = api_in(body)
        rows = []
        for _ in range(int(_COUNT.search(body["messages"][-1]["content"]).group(1))):
            n = count()
            rows.append(
                {
                    "instruction": f"Please help with {words(n, 6)} using {name}.",
                    "api_call": valid_call(name, n),
                    "explanation": f"{name} does what is asked ({n}).",
                }
            )
        return json.dumps(rows)

    fake.script(r"documentation of one API", reply)


CASE = Case(script, {"pairs_per_api": 1}, SEEDS)

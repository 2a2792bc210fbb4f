"""KG2Tool: the demo knowledge graph; each question names the anchors the prompt asks for,
in words that differ call by call."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from tests.generation.cases import Case, counter, words

SEEDS = (Path(__file__).parents[3] / "curation/demo/data/kg_triples.jsonl").read_bytes()
_ANCHORS = re.compile(r"It must name (.+?) exactly as written")


def anchors_in(body: dict[str, Any]) -> list[str]:
    found = _ANCHORS.search(body["messages"][-1]["content"])
    return found.group(1).split(" and ") if found else []


def script(fake: Any) -> None:
    count = counter()

    def reply(body: dict[str, Any]) -> str:
        time.sleep(fake.latency)  # one long call an item: two waves outlast a slice
        return f"Which ones link to {' and '.join(anchors_in(body))}, as in {words(count(), 3)}?"

    fake.script(r"Turn a knowledge-graph query into one question", reply)


CASE = Case(script, {}, SEEDS)

"""GPT4Tools: the demo image descriptions; each chain calls the first tool the prompt lists,
with valid arguments, and each negative answers at once; every instruction is new."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from generation.recipes.gpt4tools_tools import TOOLS, by_name
from tests.generation.cases import Case, counter, words

SEEDS = (Path(__file__).parents[3] / "curation/demo/data/image_captions.jsonl").read_bytes()
POSITIVE = r"needs one or more of these tools"
NEGATIVE = r"needs none of these tools"
_IMAGE = re.compile(r"The picture (\S+), described")
_TOOL = re.compile(r"^- ([a-z_]+) \(", re.MULTILINE)


def prompt_of(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def listed(body: dict[str, Any]) -> tuple[str, list[str]]:
    """The image's file name and the tools' names, as the prompt shows them."""
    text = prompt_of(body)
    found = _IMAGE.search(text)
    return (found.group(1) if found else "", _TOOL.findall(text))


def action_input(tool: str, image: str, n: int) -> str:
    """GPT4Tools' comma-separated arguments that pass the check."""
    kinds = {"image": image, "box": "[10, 20, 110, 120]"}
    return ", ".join(kinds.get(a.kind, words(n, 2)) for a in by_name(TOOLS)[tool].args)


def chain(body: dict[str, Any], n: int, tool: str = "") -> str:
    image, tools = listed(body)
    tool = tool or tools[0]
    return (
        f"Instruction: Please look at {words(n, 6)} in the picture.\n"
        "Thought: Do I need to use a tool? Yes\n"
        f"Action: {tool}\n"
        f"Action Input: {action_input(tool, image, n)}\n"
        f"Observation: It shows {words(n + 1000, 4)}.\n"
        "Thought: Do I need to use a tool? No\n"
        f"AI: Here is what I found about {words(n, 3)}."
    )


def negative(n: int) -> str:
    return (
        f"Instruction: Tell me a fact about {words(n, 6)}.\n"
        "Thought: Do I need to use a tool? No\n"
        f"AI: A fact about {words(n, 4)}."
    )


def script(fake: Any) -> None:
    count = counter()

    def positive(body: dict[str, Any]) -> str:
        time.sleep(fake.latency / 2)  # one long call an item: two waves outlast a slice
        return chain(body, count())

    fake.script(POSITIVE, positive)
    fake.script(NEGATIVE, lambda body: negative(count()))


CASE = Case(script, {}, SEEDS)

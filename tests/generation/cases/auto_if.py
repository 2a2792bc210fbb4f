"""AutoIF: two lowercase constraints and three queries; three verifiers that agree on twelve
cases, one all-lowercase and one Title Case response per query, a consistent judge."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words

AUGMENT = r"^You write instructions about the format"
VERIFIER = r"^You write Python checks for instruction following"
BACK = r"^This Python function checks whether"
NLI = r"^Compare two instructions"
RESPOND = r"^Answer the query, strictly following"
CONSISTENCY = r"^You judge whether a response answers a query"
QUERIES = r"^Write \d+ different questions"
# Three ways to check "all lowercase", each with four cases of its own.
LOWERCASE = (
    ("def evaluate(response):\n    return response == response.lower()",
     [("hello world", True), ("Hello", False), ("all small here", True), ("SHOUT", False)]),
    ("def evaluate(response):\n    return not any(c.isupper() for c in response)",
     [("quiet words", True), ("Mixed Case", False), ("lower only", True), ("ABC", False)]),
    ("def evaluate(response):\n    return len(response) > 0 and response.lower() == response",
     [("fine text", True), ("Nope", False), ("ok then", True), ("Big", False)]),
)  # fmt: skip


def verifier(func: str, cases: list[tuple[str, bool]]) -> str:
    """A verifier reply as the prompt asks for it: one JSON object."""
    return json.dumps({"func": func, "cases": [{"input": i, "output": o} for i, o in cases]})


def lowercase_verifiers(_body: Any = None) -> list[str]:
    return [verifier(func, list(cases)) for func, cases in LOWERCASE]


def seeds(constraints: list[str], queries: list[str]) -> bytes:
    rows = [{"instruction": c, "output": "sure.", "type": "constraint"} for c in constraints]
    rows += [{"instruction": q, "output": "An answer."} for q in queries]
    return "\n".join(json.dumps(r) for r in rows).encode()


def script(fake: Any) -> None:
    tick = counter()
    fake.script(AUGMENT, lambda _b: f"- Answer in lowercase and mention {words(tick(), 4)}.")
    fake.script(VERIFIER, lowercase_verifiers)
    fake.script(BACK, "Answer in all lowercase letters.")
    fake.script(NLI, "Both ask for lowercase.\nLabel: entailment")
    fake.script(RESPOND, lambda _b: [words(tick()), words(tick()).title()])
    fake.script(CONSISTENCY, "It answers the query.\nScore: 9")


SEEDS = seeds(
    ["Answer in all lowercase letters.", "Write your whole reply without capital letters."],
    [
        "Describe how a rainbow forms after a storm.",
        "Suggest a name for a small bakery by the sea.",
        "Explain why leaves change colour in autumn.",
    ],
)
PARAMS = {"verifiers": 3, "queries": 2, "responses": 2, "nli_checks": 1, "new_instructions": 2}
CASE = Case(script, PARAMS, SEEDS)

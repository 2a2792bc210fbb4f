"""ReST meets ReAct: the demo documents with six questions about them. The agent searches
with the question, notes what it found, quotes the first words of the top snippet, keeps
its answer through both self-checks, and the ranker puts the first trajectory first."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.generation.cases import Case, counter, words

SEEDS = (Path(__file__).parents[3] / "curation/demo/data/doc_questions.jsonl").read_bytes()
DECIDE = r"Decide the next step"
SUMMARIZE = r"Summarize the search results"
DRAFT = r"Draft an answer to the question"
RELEVANCE = r"Self-check for relevance"
GROUNDING = r"Self-check for grounding"
RANK = r"You are grading \d+ attempts"
QUESTION = r"write one question that it answers"
_HIT = re.compile(r"^(doc\d+): .*? — (.*)$", re.M)


def question_of(body: dict[str, Any]) -> str:
    found = re.search(r"^Question: (.*)$", body["messages"][-1]["content"], re.M)
    return found.group(1) if found else ""


def decide(body: dict[str, Any]) -> str:
    if "Notes:" in body["messages"][-1]["content"]:
        return "Thought: My notes answer it.\nAction: answer"
    return f"Thought: I should look this up.\nAction: search\nQuery: {question_of(body)}"


def top_quote(body: dict[str, Any]) -> tuple[str, str]:
    """The first hit's id and its first six words, as the transcript shows them."""
    found = _HIT.search(body["messages"][-1]["content"])
    return (found.group(1), " ".join(found.group(2).split()[:6])) if found else ("doc0", "")


def script(fake: Any) -> None:
    count = counter()

    def draft(body: dict[str, Any]) -> str:
        doc, quote = top_quote(body)
        answer = words(count(), 4)
        return f"Thought: The notes say so.\nAnswer: {answer}\nDoc: {doc}\nQuote: {quote}"

    fake.script(DECIDE, decide)
    fake.script(SUMMARIZE, lambda _b: f"Summary: the documents mention {words(count(), 6)}.")
    fake.script(DRAFT, draft)
    fake.script(RELEVANCE, lambda _b: f"Thought: It fits.\nAnswer: {words(count(), 4)}")
    fake.script(GROUNDING, lambda _b: f"Thought: Supported.\nAnswer: {words(count(), 4)}")
    fake.script(RANK, "Attempt 1 is best.\nRanking: 1 > 2 > 3")
    fake.script(QUESTION, lambda _b: f"Question: What is {words(count(), 5)}?")


CASE = Case(script, {"n_trajectories": 2, "max_searches": 2, "rank_orders": 1}, SEEDS)

"""ReST meets ReAct (#55): three trajectories per question, the ranker picks one, and its
steps are exported as separate SFT rows with the same trajectory id."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from curation.samples.models import Judgement, Sample
from curation.seeds.services import import_seed_set
from generation.recipes.rest_react import borda, ranking
from generation.recipes.rest_react_agent import decision, draft
from generation.runs.models import RunItem, RunStatus
from tests.generation.cases.rest_react import (
    DECIDE,
    DRAFT,
    GROUNDING,
    QUESTION,
    RANK,
    RELEVANCE,
    SUMMARIZE,
    decide,
    top_quote,
)

DOCS = (Path(__file__).parents[2] / "curation/demo/data/documents.jsonl").read_bytes()
TIDES = {"question": "What mainly causes the tides?", "answer": "the Moon's gravity"}
ANSWERS = ["the Sun's heat", "the Moon's gravity", "the wind"]  # trajectory 0, 1, 2
KINDS = ["decide", "summarize", "decide", "draft", "check_relevance", "check_grounding"]
THREE = {"n_trajectories": 3, "max_searches": 2, "rank_orders": 2}


def seeds(bench: Any, *extra: dict[str, Any]) -> Any:
    data = DOCS + b"".join(json.dumps(e).encode() + b"\n" for e in extra)
    return import_seed_set(bench.owner, bench.project, name="Docs", data=data)


def scripted(fake: Any, quote: str | None = None) -> None:
    """Trajectory k answers ANSWERS[k]; the ranker puts the Moon first, whatever the order."""
    drafts = iter(range(99))

    def drafted(body: dict[str, Any]) -> str:
        doc, first_words = top_quote(body)
        answer = ANSWERS[next(drafts) % 3]
        return (
            f"Thought: From my notes.\nAnswer: {answer}\nDoc: {doc}\nQuote: {quote or first_words}"
        )

    def kept(body: dict[str, Any]) -> str:
        found = re.search(r"^(?:Draft answer|Answer to check): (.*)$",
                          body["messages"][-1]["content"], re.M)  # fmt: skip
        return f"Thought: It holds.\nAnswer: {found.group(1) if found else ''}"

    def rank(body: dict[str, Any]) -> str:
        blocks = re.split(r"^Trajectory (\d+):$", body["messages"][-1]["content"], flags=re.M)
        shown = {int(blocks[i]): blocks[i + 1] for i in range(1, len(blocks) - 1, 2)}
        best = next(k for k, text in shown.items() if "Final answer: the Moon" in text)
        rest = [k for k in shown if k != best]
        return f"The Moon one is right.\nRanking: {' > '.join(map(str, [best, *rest]))}"

    fake.script(DECIDE, decide)
    fake.script(SUMMARIZE, "Summary: doc2 says tides come mainly from the Moon's gravity.")
    fake.script(DRAFT, drafted)
    fake.script(RELEVANCE, kept)
    fake.script(GROUNDING, kept)
    fake.script(RANK, rank)


def asked(fake: Any, pattern: str) -> list[str]:
    texts = [b["messages"][-1]["content"] for b in fake.requests]
    return [t for t in texts if re.search(pattern, t)]


@pytest.mark.django_db(transaction=True)
def test_three_trajectories_the_ranker_picks_one_and_its_steps_become_rows_with_one_id(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm)
    run = bench.start("rest_react", 7, seed_set=seeds(bench, TIDES), params=THREE)
    assert run.status == RunStatus.COMPLETED, run.last_error

    # Three trajectories were sampled, each drafting once; the ranker ran in two orders.
    assert len(asked(fake_llm, DRAFT)) == 3
    ranked = asked(fake_llm, RANK)
    assert len(ranked) == 2 and ranked[0] != ranked[1]
    samples = list(Sample.objects.filter(run=run).order_by("work_key"))
    rows = [s for s in samples if s.kind == "sft"]
    (whole,) = [s for s in samples if s.kind == "tool_trajectory"]
    # One SFT row per agent step, all with the chosen trajectory's id (the Moon: index 1).
    assert len(rows) == len(KINDS) == len(whole.extra["steps"])
    assert {r.extra["trajectory_id"] for r in rows} == {whole.extra["trajectory_id"]}
    assert whole.extra["trajectory_id"].endswith(":t1")
    by_step = sorted(rows, key=lambda r: r.extra["metadata"]["step"])
    assert [r.extra["metadata"]["kind"] for r in by_step] == KINDS
    assert by_step[-1].messages[-1]["content"].endswith("Answer: the Moon's gravity")
    assert whole.messages[-1] == {"role": "assistant", "content": "the Moon's gravity"}
    # A step's prompt holds the trajectory so far: the draft sees the search and the notes.
    draft_prompt = by_step[3].messages[0]["content"]
    assert "Search: What mainly causes the tides?" in draft_prompt
    assert "Notes: doc2 says tides come mainly" in draft_prompt
    assert by_step[0].messages[0]["content"].count("(nothing yet)") == 1
    # The env's checker passed the chosen one: gold matched and its quote was found.
    assert whole.extra["env"]["verdict"]["success"] is True
    assert whole.extra["gold"] == "the Moon's gravity" == by_step[0].extra["gold"]
    assert whole.extra["metadata"]["of"] == 3
    assert whole.extra["metadata"]["quotes_found"] == [True]
    # The ranking is a judgement: both orders put the Moon first, so it is sure.
    (judged,) = Judgement.objects.filter(sample=whole)
    assert judged.rubric_id == "rank_trajectories" and judged.confidence == 1.0
    assert whole.judge_score == 1.0


@pytest.mark.django_db(transaction=True)
def test_the_whole_trajectory_is_search_and_quote_tool_calls_with_the_envs_results(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm)
    run = bench.start("rest_react", 7, seed_set=seeds(bench, TIDES), params=THREE)
    whole = Sample.objects.get(run=run, kind="tool_trajectory")
    calls = [m["tool_calls"][0]["function"] for m in whole.messages if m.get("tool_calls")]
    assert [c["name"] for c in calls] == ["search", "quote"]
    assert json.loads(calls[0]["arguments"]) == {"query": TIDES["question"]}
    results = [m for m in whole.messages if m["role"] == "tool"]
    assert "How tides work" in results[0]["content"] and results[1]["content"] == "Quote found."
    assert {t["function"]["name"] for t in whole.tools} == {"search", "open", "quote", "finish"}
    steps = whole.extra["steps"]
    assert steps[-1]["action"] == {"name": "finish", "arguments": {"answer": "the Moon's gravity"}}


@pytest.mark.django_db(transaction=True)
def test_a_quote_that_is_not_in_the_document_fails_and_the_grounding_check_is_shown_it(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm, quote="Tides are made by whales")
    params = {**THREE, "require_success": True, "whole_trajectory": False}
    run = bench.start("rest_react", 6, seed_set=seeds(bench, TIDES), params=params,
                      futility_limit=2)  # fmt: skip
    grounding = asked(fake_llm, GROUNDING)
    assert grounding and all(
        "Quote check: Error: that text is not in the document." in g for g in grounding
    )
    # With gold the Moon answer still matches, so it is kept, its quote marked not found.
    row = Sample.objects.filter(run=run).first()
    assert row is not None and row.extra["metadata"]["quotes_found"] == [False]
    assert row.extra["metadata"]["verdict"]["details"] == {"quotes_found": 0}


@pytest.mark.django_db(transaction=True)
def test_a_best_trajectory_the_checker_fails_is_dropped_when_success_is_required(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm)
    wrong = {"question": TIDES["question"], "answer": "the tides are wind"}
    params = {**THREE, "require_success": True}
    run = bench.start("rest_react", 7, seed_set=seeds(bench, wrong), params=params,
                      futility_limit=2)  # fmt: skip
    assert run.produced == 0
    reasons = set(RunItem.objects.filter(run=run).values_list("reason", flat=True))
    assert reasons == {"best_failed_check"}


@pytest.mark.django_db(transaction=True)
def test_without_qa_seeds_the_questions_are_written_from_the_documents(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm)
    fake_llm.script(QUESTION, "Question: What mainly causes the tides?")
    run = bench.start("rest_react", 7, seed_set=seeds(bench), params=THREE)
    assert run.status == RunStatus.COMPLETED, run.last_error
    whole = Sample.objects.get(run=run, kind="tool_trajectory")
    assert whole.messages[0] == {"role": "user", "content": "What mainly causes the tides?"}
    assert "gold" not in whole.extra
    assert len(asked(fake_llm, QUESTION)) == 1


def test_a_ranking_reads_the_labelled_line_and_points_add_up_over_orders() -> None:
    assert ranking("1 is weak.\nRanking: 3 > 1 > 2", 3) == [2, 0, 1]
    assert ranking("Best: 2", 3) == [1]
    assert ranking("Ranking: 5 > 2 > 2", 3) == [1]
    assert ranking("Trajectory 2 is best.", 3) == []
    assert borda([[1, 0, 2], [1, 2, 0]], 3) == [1.0, 4.0, 1.0]


def test_decisions_and_drafts_are_read_defensively() -> None:
    assert decision("Thought: hm\nAction: search\nQuery: moon tides") == "moon tides"
    assert decision("**Search:** moon tides") == "moon tides"
    assert decision("Thought: enough\nAction: answer") is None
    assert decision("I am not sure.") == ""
    text = 'Thought: ok\nAnswer: spring tides\nDoc: doc4\nQuote: "larger spring tides"'
    assert draft(text) == ("spring tides", "doc4", "larger spring tides")
    assert draft("Spring tides.\nQuote (doc 7): make larger spring tides") == (
        "Spring tides.", "doc7", "make larger spring tides",
    )  # fmt: skip
    assert draft("Quote: something")[0] == ""

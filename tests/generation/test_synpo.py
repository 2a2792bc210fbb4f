"""SynPO (#22): keyword prompts, the policy's answer rejected, its refinement chosen."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.projects import services as project_services
from curation.samples.models import Judgement
from curation.seeds.services import import_seed_set
from generation.recipes.base import SeedRow
from generation.recipes.synpo_text import gold_of, keywords_in, read_improved, read_prompt
from generation.runs.models import RunStatus
from generation.runs.services import ServiceError
from tests.fakes.openai_server import FakeOpenAI
from tests.generation.cases.synpo import SEED_PROMPTS, better_one, last_user

KEYWORDS = ["lighthouse", "storm", "harbor"]


def script(fake: Any, *, prompt: str | None = None, improved: str | None = None,
           judge: Any = better_one) -> None:  # fmt: skip
    """A generator that uses the first two keywords, drafts, an improver, a judge."""
    fake.script(
        r"Keywords: [^\n]*\nPrompt:\s*$",
        prompt or "Tell me why a lighthouse matters in a storm.",
    )
    fake.script(r"between <improved> and </improved>", improved or "<improved>Better answer.")
    fake.script(r"The answer is: \($", judge)
    fake.script(rf"^Tell me|{SEED_PROMPTS}", "Draft answer.")


def requests_for(fake: Any, marker: str) -> list[str]:
    return [last_user(r) for r in fake.requests if "messages" in r and marker in last_user(r)]


@pytest.mark.django_db(transaction=True)
def test_three_keywords_give_a_prompt_with_two_of_them_and_a_pair_the_judge_prefers_twice(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)
    run = bench.start("synpo", 1, params={"keywords": KEYWORDS})
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = run.samples.get()
    prompt = sample.messages[0]["content"]
    assert prompt == "Tell me why a lighthouse matters in a storm."
    assert sorted(sample.extra["keywords"]) == sorted(KEYWORDS)
    assert sorted(sample.extra["keywords_found"]) == ["lighthouse", "storm"]
    (asked,) = requests_for(fake_llm, "\nPrompt:")
    assert asked.rstrip().endswith("Prompt:") and all(k in asked for k in KEYWORDS)
    assert sample.chosen[0]["content"] == "Better answer."
    assert sample.rejected[0]["content"] == "Draft answer."
    # The judge saw both orders and chose the refinement both times.
    orders = requests_for(fake_llm, "The answer is: (")
    assert len(orders) == 2
    assert sorted(better_one({"messages": [{"content": o}]}) for o in orders) == ["A", "B"]
    assert sample.extra["p_a_orders"] == [1.0, 1.0]
    assert sample.judge_score == 1.0 and sample.judge_confidence == 1.0
    judgement = Judgement.objects.get(sample=sample)
    assert judgement.confidence == 1.0 and judgement.rubric_id == "compare"


@pytest.mark.django_db(transaction=True)
def test_the_improver_sees_the_policys_drafts_beside_the_seed_gold_answers(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)
    run = bench.start("synpo", 1, params={"keywords": KEYWORDS, "improver_shots": 2})
    assert run.status == RunStatus.COMPLETED, run.last_error
    (improve,) = requests_for(fake_llm, "between <improved> and </improved>")
    assert improve.count("<draft>\nDraft answer.\n</draft>") == 3  # 2 examples, then the real one
    golds = [s.payload["instances"][0]["output"] for s in bench.seed_set.seeds.all()]
    assert sum(f"<improved>\n{g}\n</improved>" in improve for g in golds) == 2
    shots = run.samples.get().extra["metadata"]["improver_shots"]
    assert len(shots) == 2 and set(shots) <= set(run.samples.get().seed_ids)


@pytest.mark.django_db(transaction=True)
def test_without_draft_shots_the_improver_sees_gold_answers_and_no_seed_is_drafted(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)
    params = {"keywords": KEYWORDS, "draft_shots": False}
    run = bench.start("synpo", 1, params=params)
    assert run.status == RunStatus.COMPLETED, run.last_error
    (improve,) = requests_for(fake_llm, "between <improved> and </improved>")
    assert improve.count("<draft>") == 1
    drafted = [r for r in fake_llm.requests if re.match(SEED_PROMPTS, last_user(r))]
    assert not drafted


@pytest.mark.django_db(transaction=True)
def test_a_prompt_with_fewer_than_two_of_its_keywords_is_dropped(bench: Any, fake_llm: Any) -> None:
    script(fake_llm, prompt="Tell me about lighthouses.")
    run = bench.start("synpo", 1, params={"keywords": KEYWORDS}, futility_limit=1)
    assert run.status == RunStatus.FAILED
    assert run.produced == 0
    assert set(run.filtered) == {"too_few_keywords"}


@pytest.mark.django_db(transaction=True)
def test_a_refinement_identical_to_the_response_is_dropped(bench: Any, fake_llm: Any) -> None:
    script(fake_llm, improved="<improved>\n  draft ANSWER.\n</improved>")
    run = bench.start("synpo", 1, params={"keywords": KEYWORDS}, futility_limit=1)
    assert run.produced == 0
    assert set(run.filtered) == {"identical"}
    assert not requests_for(fake_llm, "The answer is: (")  # no judge for an identical pair


@pytest.mark.django_db(transaction=True)
def test_a_pair_the_judge_prefers_rejected_in_is_dropped(bench: Any, fake_llm: Any) -> None:
    script(fake_llm, judge=lambda body: "B" if better_one(body) == "A" else "A")
    run = bench.start("synpo", 1, params={"keywords": KEYWORDS}, futility_limit=1)
    assert run.produced == 0
    assert set(run.filtered) == {"judge_prefers_rejected"}


@pytest.mark.django_db(transaction=True)
def test_a_judge_that_always_says_a_shows_no_preference_gap(bench: Any, fake_llm: Any) -> None:
    script(fake_llm, judge="A")  # position bias: the two orders cancel out
    run = bench.start("synpo", 1, params={"keywords": KEYWORDS}, futility_limit=1)
    assert run.produced == 0
    assert set(run.filtered) == {"no_preference_gap"}


@pytest.mark.django_db(transaction=True)
def test_keywords_come_from_the_sets_word_list_seeds_and_gold_from_its_qa_seeds(
    bench: Any, fake_llm: Any
) -> None:
    words = ["lighthouse", "storm", "harbor", "anchor"]
    rows = [{"word": w} for w in words] + [
        {"question": f"What is {n} + {n}?", "answer": str(2 * n)} for n in range(1, 4)
    ]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    seed_set = import_seed_set(bench.owner, bench.project, name="Mixed", data=data)
    fake_llm.script(r"^What is", "Draft answer.")
    script(fake_llm)
    run = bench.start("synpo", 1, seed_set=seed_set)
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = run.samples.get()
    assert set(sample.extra["keywords"]) <= set(words) and len(sample.extra["keywords"]) == 3
    assert sample.extra["metadata"]["keyword_source"] == "word_list"
    word_seeds = set(seed_set.seeds.filter(kind="word_list").values_list("id", flat=True))
    assert len(word_seeds & set(sample.seed_ids)) == 3
    (improve,) = requests_for(fake_llm, "between <improved> and </improved>")
    assert "<request>\nWhat is" in improve


@pytest.mark.django_db(transaction=True)
def test_a_set_of_keywords_without_gold_responses_is_refused_at_start(bench: Any) -> None:
    data = b'{"word": "lighthouse"}\n{"word": "storm"}\n{"word": "harbor"}\n'
    seed_set = import_seed_set(bench.owner, bench.project, name="Words", data=data)
    with pytest.raises(ServiceError, match="gold responses"):
        bench.start("synpo", 1, seed_set=seed_set)


@pytest.mark.django_db(transaction=True)
def test_the_generator_and_improver_roles_can_use_their_own_endpoint(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, judge=lambda body: "A" if "(A) <response>Strong" in last_user(body) else "B")
    with FakeOpenAI() as strong:
        script(strong, improved="<improved>Strong answer.")
        other = project_services.save_endpoint(
            bench.owner, bench.project, name="strong", base_url=strong.base_url,
            chat_model="strong-model", max_concurrency=4,
        )  # fmt: skip
        endpoints = {"generator": other, "improver": other}
        run = bench.start("synpo", 1, params={"keywords": KEYWORDS}, endpoints=endpoints)
        assert run.status == RunStatus.COMPLETED, run.last_error
        assert requests_for(strong, "\nPrompt:") and requests_for(strong, "<improved>")
    assert not requests_for(fake_llm, "\nPrompt:")
    assert not requests_for(fake_llm, "between <improved> and </improved>")
    assert run.samples.get().chosen[0]["content"] == "Strong answer."


def test_a_keyword_is_found_at_the_start_of_a_word_and_a_phrase_across_whitespace() -> None:
    text = "Rivers and the Sea\nlevel rise near old-harbor towns"
    assert keywords_in(text, ["river", "sea level", "harbor", "town", "ice"]) == [
        "river",
        "sea level",
        "harbor",
        "town",
    ]
    assert keywords_in("a stormy night", ["orm"]) == []


def test_the_new_prompt_and_the_refinement_are_read_without_their_wrapping() -> None:
    assert read_prompt(' Prompt: "Plan a trip."\n\nKeywords: a, b, c') == "Plan a trip."
    assert read_prompt("") == ""
    assert read_improved("<improved>\nBetter.\n</improved> trailing") == "Better."
    assert read_improved("Improved answer: Better.") == "Better."


def test_the_gold_response_of_each_seed_kind() -> None:
    qa = SeedRow(1, "qa", {"question": "2+2?", "answer": "4", "rationale": "Two and two."}, "")
    assert gold_of(qa) == "Two and two.\n\nThe answer is 4."
    worked = SeedRow(2, "qa", {"question": "q", "answer": "4", "solution": "2+2=4 #### 4"}, "")
    assert gold_of(worked) == "2+2=4 #### 4"
    turns = [{"role": "system", "content": "s"}, {"role": "user", "content": "Hi"},
             {"role": "assistant", "content": "Hello."}]  # fmt: skip
    assert gold_of(SeedRow(3, "conversation", {"messages": turns}, "")) == "Hello."
    empty = SeedRow(4, "instruction", {"instruction": "x", "instances": [{"output": ""}]}, "")
    assert gold_of(empty) == ""

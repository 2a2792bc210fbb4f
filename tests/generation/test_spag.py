"""SPAG (#4): Adversarial Taboo games judged by the rules; won games give the winner's turns
reward-weighted SFT rows, ties and rule breaks drop.

The fake players below say scripted lines by (player, turn): each reads its role from its
system prompt and its turn from how many of its own turns it was shown.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from curation.seeds.services import import_seed_set
from generation.recipes import spag_rules as rules
from generation.runs.models import RunItem, RunStatus

WORD = "apple"
NEUTRAL = {
    "attacker": "What do you like to eat in autumn?",
    "defender": "I like warm soup and roasted nuts.",
}
# The three acceptance games, as (player, text) turns.
SAYS_IT = [
    ("attacker", "What grows in an orchard?"),
    ("defender", "Pears, plums and cherries."),
    ("attacker", "What keeps the doctor away, they say?"),
    ("defender", "An apple a day, of course."),
]
RIGHT_GUESS = [
    ("attacker", "What fruit fell on Newton's head?"),
    ("defender", "Gravity is a fine topic."),
    ("attacker", "Think of a red fruit with a core."),
    ("defender", "I know the word! It is `apple`!"),
]
WRONG_GUESS = [
    ("attacker", "Think of a red fruit with a core."),
    ("defender", "I know the word! It is `cherry`!"),
]


def player(body: dict[str, Any]) -> str:
    return re.search(r"You are the (attacker|defender)", body["messages"][0]["content"]).group(1)  # type: ignore[union-attr]


def turn(body: dict[str, Any]) -> int:
    return sum(m["role"] == "assistant" for m in body["messages"])


def plays(fake: Any, game: list[tuple[str, str]]) -> None:
    """The players say the game's lines in order; past its end, neutral small talk."""
    lines: dict[str, list[str]] = {"attacker": [], "defender": []}
    for who, text in game:
        lines[who].append(text)

    def say(body: dict[str, Any]) -> str:
        who, k = player(body), turn(body)
        return lines[who][k] if k < len(lines[who]) else NEUTRAL[who]

    fake.script(r".", say)


def one_game(run: Any) -> Any:
    """The rows of the run's first stored game, in turn order."""
    episode = run.samples.earliest("pk").extra["metadata"]["episode"]
    return run.samples.filter(extra__metadata__episode=episode).order_by("work_key")


@pytest.fixture
def words(bench: Any) -> Any:
    return import_seed_set(bench.owner, bench.project, name="Words", data=b'{"word": "apple"}\n')


# -- the rule judge ---------------------------------------------------------------------


def test_the_three_scripted_games_are_won_by_attacker_defender_and_attacker() -> None:
    said = rules.outcome(SAYS_IT, WORD, 5)
    assert (said.outcome, said.turn, said.winner) == (rules.ATTACKER_WINS, 3, "attacker")
    right = rules.outcome(RIGHT_GUESS, WORD, 5)
    assert (right.outcome, right.turn, right.winner) == (rules.DEFENDER_WINS, 3, "defender")
    wrong = rules.outcome(WRONG_GUESS, WORD, 5)
    assert (wrong.outcome, wrong.winner) == (rules.ATTACKER_WINS, "attacker")
    assert wrong.detail == "the defender guessed 'cherry'"


def test_five_turns_each_without_an_event_are_a_tie() -> None:
    quiet = [(who, NEUTRAL[who]) for _ in range(5) for who in ("attacker", "defender")]
    assert rules.outcome(quiet, WORD, 5).outcome == rules.TIE
    # An event after the turn limit does not count.
    late = [*quiet, ("attacker", "Say it!"), ("defender", "Apple!")]
    assert rules.outcome(late, WORD, 5).outcome == rules.TIE


def test_the_word_counts_in_its_plural_ing_ed_and_quoted_forms_but_not_inside_other_words() -> None:
    for text in ("Apples are red.", "I went 'apple' picking.", 'He said "APPLE".', "`apple`"):
        assert rules.says(text, WORD), text
    assert rules.says("We were dancing all night.", "dance")
    assert rules.says("They danced.", "dance") and rules.says("Two boxes.", "box")
    assert rules.says("Many cities.", "city") and rules.says("She cooked.", "cook")
    assert not rules.says("Pineapples and applesauce.", WORD)
    assert not rules.says("Let us start.", "art")


def test_an_attacker_who_says_the_word_or_guesses_breaks_the_rules() -> None:
    said = rules.outcome([("attacker", "Do you like apples?")], WORD, 5)
    assert (said.outcome, said.detail) == (rules.RULE_BREAK, "the attacker said the word")
    guessed = rules.outcome([("attacker", "I know the word! It is `pear`!")], WORD, 5)
    assert guessed.outcome == rules.RULE_BREAK and guessed.winner is None


@pytest.mark.parametrize(
    ("text", "guess"),
    [
        ("I know the word! It is `apple`!", "apple"),
        ("i know the word! it's an apple.", "apple"),
        ("I KNOW THE WORD: **Apples**", "apples"),
        ("I know the word!", ""),
        ("Hmm, is it a fruit?", None),
    ],
)
def test_a_guess_is_read_after_the_announcement(text: str, guess: str | None) -> None:
    assert rules.guess_of(text) == guess


def test_an_announcement_without_a_guess_or_with_a_wrong_one_loses() -> None:
    for text in ("I know the word!", "I know the word! It is `pineapple`!"):
        event = rules.judge_turn("defender", text, WORD, 1)
        assert event is not None and event.outcome == rules.ATTACKER_WINS


def test_later_winning_turns_weigh_more_and_a_games_weights_add_up_to_one() -> None:
    weights = rules.turn_weights(3, 0.8)
    assert weights == sorted(weights) and sum(weights) == pytest.approx(1.0)
    assert weights[1] / weights[0] == pytest.approx(1.25) == weights[2] / weights[1]
    assert rules.turn_weights(1, 0.8) == [1.0] and rules.turn_weights(2, 1.0) == [0.5, 0.5]


# -- runs against the fake server -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_defender_who_says_the_word_loses_and_the_attackers_turns_become_weighted_rows(
    bench: Any, fake_llm: Any, words: Any
) -> None:
    plays(fake_llm, SAYS_IT)
    run = bench.start("spag", 2, seed_set=words)
    assert run.status == RunStatus.COMPLETED, run.last_error
    first = one_game(run)
    assert [s.messages[-1]["content"] for s in first] == [SAYS_IT[0][1], SAYS_IT[2][1]]
    weights = [s.extra["weight"] for s in first]
    assert sum(weights) == pytest.approx(1.0) and weights[1] > weights[0]
    assert weights == pytest.approx(rules.turn_weights(2, 0.8))
    meta = first[1].extra["metadata"]
    assert meta["outcome"] == "attacker_wins" and meta["winner"] == "attacker"
    assert meta["ended_at_turn"] == 4 and first[0].work_key.startswith(f"{meta['episode']}:t")
    assert (meta["turn"], meta["winner_turn"], meta["winner_turns"]) == (3, 2, 2)
    assert first[1].tags == ["winner:attacker"] and first[1].kind == "sft"
    # The row's prompt is the game so far; the attacker's system prompt holds the word.
    system, user = first[1].messages[0]["content"], first[1].messages[1]["content"]
    assert "The target word is `apple`" in system
    assert f"attacker: {SAYS_IT[0][1]}\ndefender: {SAYS_IT[1][1]}" in user
    assert "no turns yet" in first[0].messages[1]["content"]
    # The game stopped at the event: four turns asked per game, nothing after.
    assert fake_llm.count() == 4 * RunItem.objects.filter(run=run).count()


@pytest.mark.django_db(transaction=True)
def test_a_right_guess_wins_for_the_defender_who_never_sees_the_word(
    bench: Any, fake_llm: Any, words: Any
) -> None:
    plays(fake_llm, RIGHT_GUESS)
    run = bench.start("spag", 2, seed_set=words)
    assert run.status == RunStatus.COMPLETED, run.last_error
    rows = list(one_game(run))
    assert [r.messages[-1]["content"] for r in rows] == [RIGHT_GUESS[1][1], RIGHT_GUESS[3][1]]
    assert {r.extra["metadata"]["outcome"] for r in rows} == {"defender_wins"}
    assert all("apple" not in r.messages[0]["content"] for r in rows)
    defender_sees = [b for b in fake_llm.requests if player(b) == "defender"]
    assert defender_sees and all(WORD not in b["messages"][0]["content"] for b in defender_sees)
    assert sum(r.extra["weight"] for r in rows) == pytest.approx(1.0)


@pytest.mark.django_db(transaction=True)
def test_a_wrong_guess_loses_and_gives_the_attackers_one_turn_all_the_weight(
    bench: Any, fake_llm: Any, words: Any
) -> None:
    plays(fake_llm, WRONG_GUESS)
    run = bench.start("spag", 1, seed_set=words, params={"keep_episode": True})
    assert run.status == RunStatus.COMPLETED, run.last_error
    row = run.samples.get(kind="sft")
    assert row.messages[-1]["content"] == WRONG_GUESS[0][1] and row.extra["weight"] == 1.0
    assert row.extra["metadata"]["reason"] == "the defender guessed 'cherry'"


@pytest.mark.django_db(transaction=True)
def test_a_won_game_can_be_kept_whole_as_a_conversation(
    bench: Any, fake_llm: Any, words: Any
) -> None:
    plays(fake_llm, WRONG_GUESS)
    run = bench.start("spag", 2, seed_set=words, params={"keep_episode": True})
    assert run.status == RunStatus.COMPLETED, run.last_error
    episode = run.samples.get(kind="conversation")
    assert [m["content"] for m in episode.messages] == [t for _, t in WRONG_GUESS]
    assert [t["agent"] for t in episode.extra["turns"]] == ["attacker", "defender"]
    assert episode.extra["metadata"]["outcome"] == "attacker_wins"
    assert "episode" in episode.tags


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("game", "reason", "detail", "turns"),
    [
        ([], "tie", "no event in 5 turns each", 10),
        ([("attacker", "Say apple, please.")], "attacker_broke_rules",
         "turn 1: the attacker said the word", 1),
    ],
)  # fmt: skip
def test_a_tie_after_five_quiet_turns_each_and_a_rule_break_are_dropped_with_their_reason(
    bench: Any, fake_llm: Any, words: Any, game: Any, reason: str, detail: str, turns: int
) -> None:
    plays(fake_llm, game)
    run = bench.start("spag", 1, seed_set=words, futility_limit=2)
    assert run.status == RunStatus.FAILED and run.produced == 0
    assert set(run.filtered) == {reason}
    item = RunItem.objects.filter(run=run, reason=reason).first()
    assert item is not None and item.detail == detail
    # The game stops at the rule break; a tie runs to the limit and no further.
    assert fake_llm.count() == turns * RunItem.objects.filter(run=run).count()

"""Adversarial Taboo's rule judge and SPAG's turn rewards: pure functions, no model.

The attacker knows a target word and tries to make the defender say it; the defender tries
to infer it and wins only by announcing "I know the word! It is `X`!" with the right X.
Per turn, in this order (as the reference code judges a game):

- defender: an announcement decides at once (right X: defender wins; wrong X: attacker
  wins, one guess only); otherwise saying the word (or its plural, -ing, -ed form, quoted
  or not) is a loss;
- attacker: saying the word, or announcing a guess, breaks the rules;
- no event after both players have had their turns: a tie.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

ATTACKER, DEFENDER = "attacker", "defender"
ATTACKER_WINS, DEFENDER_WINS, RULE_BREAK, TIE = (
    "attacker_wins",
    "defender_wins",
    "attacker_broke_rules",
    "tie",
)
ANNOUNCE = re.compile(r"i\s+know\s+the\s+word\b", re.IGNORECASE)
# What follows the announcement: "! It is `X`!", ": it's X.", ", it must be **X**", ...
GUESS = re.compile(
    r"^[\s!.,:;-]*(?:it\s*(?:is|'s|’s|must\s+be|was)|the\s+word\s+is)?\s*:?\s*(?P<guess>[^!?.\n,;]*)",
    re.IGNORECASE,
)
QUOTES = "`'\"*“”‘’_«»"
ARTICLES = ("the ", "a ", "an ")


@dataclass(frozen=True)
class Event:
    """What a turn decided: the outcome, the turn it happened in (0-based) and why."""

    outcome: str
    turn: int
    detail: str

    @property
    def winner(self) -> str | None:
        return {ATTACKER_WINS: ATTACKER, DEFENDER_WINS: DEFENDER}.get(self.outcome)


def plural(word: str) -> str:
    """A regular English plural (box → boxes, city → cities, knife → knives, cat → cats)."""
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if word.endswith("fe"):
        return word[:-2] + "ves"
    if word.endswith("f") and not word.endswith("ff"):
        return word[:-1] + "ves"
    return word + "s"


def forms(word: str) -> list[str]:
    """The word and the forms that count as saying it: plural, -ing, -ed (with e dropped)."""
    base = " ".join(word.lower().split())
    out = [base, plural(base), base + "s", base + "ing", base + "ed"]
    if base.endswith("e"):
        out += [base[:-1] + "ing", base + "d"]
    return list(dict.fromkeys(out))


def _pattern(word: str) -> re.Pattern[str]:
    alternatives = sorted(forms(word), key=len, reverse=True)
    spelled = "|".join(r"\s+".join(map(re.escape, f.split())) for f in alternatives)
    # Whole words only: "art" is not said by "start" (quotes and backticks are not letters).
    return re.compile(rf"(?<!\w)(?:{spelled})(?!\w)", re.IGNORECASE)


def says(text: str, word: str) -> bool:
    """Whether the text says the word in any of its forms (quoted or not, any case)."""
    return bool(word.strip()) and bool(_pattern(word).search(text))


def guess_of(text: str) -> str | None:
    """The guessed word of an announcement ("I know the word! It is `X`!"), or None when the
    turn announces nothing; "" when it announces but names nothing."""
    found = ANNOUNCE.search(text)
    if found is None:
        return None
    rest = GUESS.match(text[found.end() :])
    raw = rest.group("guess") if rest else ""
    guess = " ".join(raw.strip().strip(QUOTES).strip().lower().split())
    for article in ARTICLES:
        if guess.startswith(article):
            guess = guess[len(article) :]
    return guess.strip(QUOTES).strip()


def judge_turn(player: str, text: str, word: str, turn: int) -> Event | None:
    """The event one turn makes, or None when the game goes on."""
    if player == DEFENDER:
        guess = guess_of(text)
        if guess is not None:
            right = bool(guess) and guess in forms(word)
            outcome = DEFENDER_WINS if right else ATTACKER_WINS
            return Event(outcome, turn, f"the defender guessed {guess or 'nothing'!r}")
        if says(text, word):
            return Event(ATTACKER_WINS, turn, "the defender said the word")
        return None
    if says(text, word):
        return Event(RULE_BREAK, turn, "the attacker said the word")
    if guess_of(text) is not None:
        return Event(RULE_BREAK, turn, "the attacker announced a guess")
    return None


def outcome(history: Sequence[tuple[str, str]], word: str, max_turns: int) -> Event:
    """The game's result from its (player, text) turns; at most max_turns per player count."""
    for i, (player, text) in enumerate(history[: 2 * max_turns]):
        event = judge_turn(player, text, word, i)
        if event is not None:
            return event
    return Event(TIE, len(history) - 1, f"no event in {max_turns} turns each")


def turn_weights(n: int, decay: float) -> list[float]:
    """Rewards of a winner's n turns: each later turn weighs 1/decay times the one before,
    normalised so that one episode's weights add up to 1."""
    if n <= 0:
        return []
    raw = [(1.0 / decay) ** (k + 1) for k in range(n)]
    total = sum(raw)
    return [r / total for r in raw]

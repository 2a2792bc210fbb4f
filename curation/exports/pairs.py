"""Preference pairs from human work and from AI judges (pure; the builder feeds it rows).

The rules, which the data card repeats:

- A ranking (candidate ids best first, ties as a nested list) gives every ordered pair
  (better, worse); candidates tied with each other give none. With several rankings of
  one sample, a pair is kept when more rankings put it one way than the other.
- An edit gives (edited = chosen, original = rejected) when only the answer changed.
- An accepted and a rejected candidate of the same prompt give a pair (built in SQL).
- An AI-judge pair (Self-Rewarding best vs worst, Constitutional AI) keeps its source.
- A human decision overrides the AI's: a ranking replaces the judge's order (a tie drops
  the pair), and a sample a person rejected is not exported at all.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from typing import Any

from curation.exports.formats import Msgs, Pair, Src


def ranked_levels(ranking: list[Any]) -> list[list[str]]:
    """[["a"], ["b", "c"]] from ["a", ["b", "c"]]: each level holds candidates tied there."""
    return [
        [str(x) for x in level] if isinstance(level, list) else [str(level)] for level in ranking
    ]


def ranking_pairs(rankings: list[list[Any]]) -> list[tuple[str, str]]:
    """Ordered (better, worse) pairs that the rankings support, by majority; ties excluded."""
    votes: Counter[tuple[str, str]] = Counter()
    for ranking in rankings:
        levels = ranked_levels(ranking)
        for hi, lo in combinations(range(len(levels)), 2):
            for better in levels[hi]:
                for worse in levels[lo]:
                    if better != worse:
                        votes[(better, worse)] += 1
    order: list[tuple[str, str]] = []
    for (better, worse), n in votes.items():
        if n > votes[(worse, better)]:
            order.append((better, worse))
    return order


def _score(extra: dict[str, Any], side: str) -> float | None:
    value = extra.get(f"{side}_score")
    if value is None and "p_chosen" in extra:  # Constitutional AI's soft label
        p = extra["p_chosen"]
        value = p if side == "chosen" else 1 - p
    return float(value) if isinstance(value, int | float) else None


def preference_pairs(s: Src, rankings: list[list[Any]]) -> tuple[list[Pair], str]:
    """The pairs of a preference sample, or none with the reason."""
    if not s.chosen or not s.rejected:
        return [], "no_pair"
    if not rankings:
        source = str(s.extra.get("source") or "preference")
        pair = Pair(
            s.messages,
            s.chosen,
            s.rejected,
            source,
            (s.id,),
            _score(s.extra, "chosen"),
            _score(s.extra, "rejected"),
            s.tools or None,
        )
        return [pair], ""
    candidates: dict[str, Msgs] = {"chosen": s.chosen, "rejected": s.rejected}
    for c in s.extra.get("candidates") or []:
        if isinstance(c, dict) and isinstance(c.get("messages"), list):
            candidates[str(c.get("id"))] = c["messages"]
    pairs = [
        Pair(s.messages, candidates[b], candidates[w], "human:ranking", (s.id,), tools=s.tools)
        for b, w in ranking_pairs(rankings)
        if b in candidates and w in candidates
    ]
    return pairs, "" if pairs else "ranked_as_tie"


def split_answer(messages: Msgs) -> tuple[Msgs, Msgs] | None:
    """(prompt, [last assistant turn]) or None when the conversation does not end in one."""
    if not messages or messages[-1].get("role") != "assistant":
        return None
    return messages[:-1], messages[-1:]


def edit_pair(s: Src, original: Msgs) -> tuple[Pair | None, str]:
    """(edited = chosen, original = rejected) when the edit changed the answer only."""
    now, before = split_answer(s.messages), split_answer(original)
    if now is None or before is None:
        return None, "no_assistant_turn"
    if now[0] != before[0]:
        return None, "edit_changed_prompt"
    if now[1] == before[1]:
        return None, "edit_kept_answer"
    return Pair(now[0], now[1], before[1], "human:edit", (s.id,)), ""

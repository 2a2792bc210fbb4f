"""AutoIF's ⑥: responses scored by the verifiers become SFT rows (passing, and consistent
with the query by a 0-10 judge) and DPO pairs (chosen pass ≥ 0.5 against rejected pass 0)."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

from generation.recipes import kit
from generation.recipes.auto_if_verify import joined, pass_rate
from generation.recipes.kit import fmt

SOURCE = "recipe:auto_if"


@dataclass(frozen=True)
class Scored:
    text: str
    verdicts: list[bool | None]  # per kept verifier; None where it raised or gave no bool

    @property
    def rate(self) -> float:
        return pass_rate(self.verdicts)


def sft_candidates(group: list[Scored], min_pass: float, most: int) -> list[Scored]:
    """The best-passing responses of one query that pass at least one verifier and at
    least min_pass of them (stable: equal rates keep their order)."""
    passing = [s for s in group if s.rate > 0 and s.rate >= min_pass]
    return sorted(passing, key=lambda s: -s.rate)[:most]


def dpo_pairs(
    group: list[Scored], chosen_min: float, rejected_max: float, most: int, rng: Any
) -> list[tuple[Scored, Scored]]:
    """Up to `most` (chosen, rejected) pairs of one query, drawn at random as the repo does."""
    chosen = [s for s in group if s.rate >= chosen_min and s.rate > rejected_max]
    rejected = [s for s in group if s.rate <= rejected_max]
    rng.shuffle(chosen)
    rng.shuffle(rejected)
    return list(itertools.product(chosen, rejected))[:most]


async def pieces(
    it: kit.Item[Any], queries: list[str], scored: list[list[Scored]], context: dict[str, Any]
) -> list[fmt.Piece]:
    """⑥ for every query of an item; the item drops with the commonest reason if none is left."""
    p = it.params
    instruction = context["instruction"]
    candidates = [
        (qi, s)
        for qi, group in enumerate(scored)
        for s in sft_candidates(group, p.sft_min_pass, p.sft_per_query)
    ]
    judged = await asyncio.gather(
        *(
            it.judge(
                "consistency",
                instruction=instruction,
                query=queries[qi],
                response=s.text,
                samples=p.judge_samples,
                maximum=10.0,
                temperature=0.7 if p.judge_samples > 1 else 0.0,
            )
            for qi, s in candidates
        )
    )
    out: list[fmt.Piece] = []
    missed: Counter[str] = Counter()
    tags = ["auto_if", context["origin"]]
    for (qi, s), j in zip(candidates, judged, strict=True):
        if j.score is None or j.score <= p.min_consistency:
            missed["consistency_unparsable" if j.score is None else "consistency_low"] += 1
            continue
        metadata = {**context, "query": queries[qi], "pass_rate": s.rate, "verdicts": s.verdicts}
        extra = {"source": SOURCE, "metadata": metadata, "tags": tags, "rationale": j.rationale}
        out.append(
            fmt.sft(
                joined(queries[qi], instruction),
                s.text,
                suffix=f"q{qi}:sft{len(out)}",
                step="sft",
                extra=extra,
                judge_score=j.score,
                judgements=[fmt.judgement("consistency", j)],
            )
        )
    for qi, group in enumerate(scored):
        if not any(s.rate > 0 for s in group):
            missed["no_passing_response"] += 1
        pairs = dpo_pairs(group, p.dpo_chosen_min, p.dpo_rejected_max, p.dpo_per_query, it.rng)
        if not pairs and p.dpo_per_query:
            missed["no_dpo_pair"] += 1
        for k, (good, bad) in enumerate(pairs):
            metadata = {**context, "query": queries[qi], "chosen_pass_rate": good.rate,
                        "rejected_pass_rate": bad.rate, "chosen_verdicts": good.verdicts,
                        "rejected_verdicts": bad.verdicts}  # fmt: skip
            out.append(
                fmt.dpo(
                    joined(queries[qi], instruction),
                    good.text,
                    bad.text,
                    suffix=f"q{qi}:dpo{k}",
                    step="dpo",
                    extra={"source": SOURCE, "metadata": metadata, "tags": tags},
                    confidence=good.rate - bad.rate,
                )
            )
    if not out:
        reason, _ = missed.most_common(1)[0] if missed else ("no_passing_response", 0)
        missed[reason] -= 1
        _count(it, missed)
        raise kit.Drop(reason)
    _count(it, missed)
    return out


def _count(it: kit.Item[Any], missed: Counter[str]) -> None:
    for reason, n in missed.items():
        tally(it, reason, n)


def tally(it: kit.Item[Any], reason: str, n: int) -> None:
    """it.count, for a filter that removed n > 0 parts of an item."""
    if n > 0:
        it.count(reason, n)

"""LP ranking (METHODS.md §0.2 "LP"): order the choices of a GEN×n by mean token logprob.

SuperGen (#7) keeps the generations its model finds most likely under the label prompt, and
ZeroGen (#8) may do the same. The mean is over the choice's own tokens (`Gen.mean_logprob`,
filled when the GEN asked for `logprobs=True` and the endpoint returned them), so long and
short texts compare fairly.

`rank(method="logprobs")` ranks by them; where the endpoint returned none, it falls back as
the caller chose:

- "judge": each choice is scored by an LLM judge (`it.judge(judge, text=..., **values)`,
  higher is better); the item counts `no_logprobs_judged`.
- "keep": the choices keep the order the endpoint gave them, unscored; the item counts
  `unranked_no_logprobs`, so the run page shows how many items were not ranked.

Choices without a score (an empty choice has no tokens; a judge reply that does not parse)
come after the scored ones. Ties go to the earlier choice. method="judge" always asks the
judge, method="keep" never ranks (neither is counted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from generation.recipes.base import JudgementDraft
from generation.recipes.kit import fmt
from generation.recipes.kit.item import Item
from generation.recipes.kit.results import Gen, Judged

Method = Literal["logprobs", "judge", "keep"]
Fallback = Literal["judge", "keep"]
LOGPROBS, JUDGE, UNRANKED = "logprobs", "judge", "unranked"


@dataclass(frozen=True)
class Ranked:
    """One choice of a GEN in rank order: its index in `gen.texts`, score and where it came from."""

    index: int
    score: float | None
    source: str  # "logprobs" | "judge" | "unranked"
    judged: Judged | None = None


def order(scores: Sequence[float | None], among: Sequence[int]) -> list[int]:
    """The indexes in `among`, best score first; unscored after, in their given order."""
    scored = [i for i in among if scores[i] is not None]
    scored.sort(key=lambda i: -(scores[i] or 0.0))  # a stable sort: ties keep their order
    return scored + [i for i in among if scores[i] is None]


def by_logprob(gen: Gen, among: Sequence[int] | None = None) -> list[Ranked] | None:
    """The choices (or those in `among`) by mean token logprob; None when there are none."""
    if gen.mean_logprob is None:
        return None
    means = gen.mean_logprob
    picked = range(len(gen.texts)) if among is None else among
    return [Ranked(i, means[i], LOGPROBS) for i in order(means, picked)]


async def rank(
    it: Item[Any],
    gen: Gen,
    k: int | None = None,
    *,
    among: Sequence[int] | None = None,
    method: Method = "logprobs",
    fallback: Fallback = "keep",
    judge: str = "",
    **values: Any,
) -> list[Ranked]:
    """The best `k` (all when None) of the choices in `among`.

    method "logprobs" ranks by mean token logprob, and by `fallback` where the endpoint
    returned none; "judge" always asks the judge; "keep" leaves the given order.
    """
    if method == "judge" and not judge:
        raise ValueError("rank(method='judge') needs the judge template's name")
    picked = list(range(len(gen.texts)) if among is None else among)
    ranked = by_logprob(gen, picked) if method == "logprobs" else None
    if ranked is None and method == "logprobs":
        it.note("no_logprobs_judged" if fallback == "judge" and judge else "unranked_no_logprobs")
    if ranked is None and judge and (method == "judge" or fallback == "judge"):
        ranked = await _judged(it, gen, picked, judge, values)
    elif ranked is None:
        ranked = [Ranked(i, None, UNRANKED) for i in picked]
    return ranked if k is None else ranked[:k]


async def _judged(
    it: Item[Any], gen: Gen, picked: list[int], judge: str, values: dict[str, Any]
) -> list[Ranked]:
    verdicts = await asyncio.gather(*(it.judge(judge, text=gen.texts[i], **values) for i in picked))
    by_index = dict(zip(picked, verdicts, strict=True))
    scores: list[float | None] = [None] * len(gen.texts)
    for i, verdict in by_index.items():
        scores[i] = verdict.score
    return [Ranked(i, scores[i], JUDGE, by_index[i]) for i in order(scores, picked)]


async def first_new(
    it: Item[Any], pool: str, ranked: list[Ranked], texts: Sequence[str], k: int | None = None
) -> list[tuple[Ranked, str]]:
    """Walking down the ranking, the first `k` (all when None) texts that are new to the
    run's DEDUP-L `pool` (they join it); the others count as `duplicate`."""
    out: list[tuple[Ranked, str]] = []
    for r in ranked:
        if k is not None and len(out) == k:
            break
        novelty = await it.dedup_l(pool, texts[r.index])
        if novelty.novel:
            out.append((r, texts[r.index]))
        else:
            it.count("duplicate")
    return out


def judgement(ranked: Ranked, gen: Gen) -> list[JudgementDraft]:
    """The ranking score as a Judgement row for review (none for an unranked choice)."""
    if ranked.judged is not None:
        return [fmt.judgement("label fit", ranked.judged)]
    if ranked.source != LOGPROBS:
        return []
    why = "Mean token logprob of the generation under its prompt (higher ranks first)."
    return [JudgementDraft(gen.model, "mean_logprob", gen.version, ranked.score, why, "")]

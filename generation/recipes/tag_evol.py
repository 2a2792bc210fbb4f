"""Tag-Evol (METHODS.md #13): evolve instructions by injecting knowledge tags; the number of
tags injected (the budget) sets the difficulty.

① GEN fine-grained knowledge tags per seed → ② normalise them and merge near-duplicates
into the run's tag pool (ROUGE-L, or embedding cosine: DEDUP-E) → ③ per seed and budget b,
SAMPLE b pooled tags relevant to the seed (not its own) → ④ GEN a rewrite that needs all b
→ ⑤ GEN the response; JUDGE that every tag is covered and the rewrite is solvable.

The tag pool is built by a first lane of work items, not in `setup` (which runs every
slice and would tag every seed again): each "tag" item tags a chunk of `tag_chunk` seeds,
merges their tags into the pool (a kit pool, stored as RunPoolEntry rows, so later slices
reload it without a call), then spawns one evolve item per seed and budget. An evolve item
samples from the tags pooled so far: its own chunk's at least, and every chunk's on seed
sets up to `tag_chunk` seeds. Several budgets in one pass replace multi-round evolution.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step
from generation.recipes.evol_instruct_rules import BANNED, eliminate
from generation.recipes.kit import fmt, tags
from generation.recipes.kit.parse import unwrap
from generation.recipes.kit.pools import EmbeddingPool
from generation.recipes.kit.results import Judged
from generation.recipes.kit.seeds import seed_prompt

OWN_BANNED = ("knowledge tag", "rewritten instruction")
_COVER = re.compile(r"^\W*(?:tag\s*)?(\d{1,2})\s*[:.)\-]\s*\**\s*(yes|no|covered|not covered)\b",
                    re.I | re.M)  # fmt: skip
_SOLVABLE = re.compile(r"solvable\W{0,5}(yes|no)\b", re.I)


class Params(RecipeParams):
    budgets: list[int] = Field(
        default_factory=lambda: [1, 3, 5], min_length=1, max_length=6,
        description="Tags injected per rewrite; one rewrite per seed and budget (b).",
    )  # fmt: skip
    tags_per_seed: int = Field(8, ge=1, le=20, description="Tags kept per seed.")
    tag_chunk: int = Field(
        32, ge=1, le=256, description="Seeds tagged per tag item; evolve items sample from "
        "the tags of their chunk and of the chunks tagged before."
    )  # fmt: skip
    merge: Literal["lexical", "embedding"] = Field(
        "lexical", description="How near-duplicate tags merge: ROUGE-L, or embedding cosine "
        "(local MiniLM)."
    )  # fmt: skip
    lexical_threshold: float = Field(0.75, gt=0.0, le=1.0, description="ROUGE-L to merge.")
    cosine_threshold: float = Field(0.9, gt=0.0, le=1.0, description="Cosine to merge.")
    judge: bool = Field(True, description="JUDGE tag coverage and solvability; drop failures.")
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(1024, ge=64, le=8192)

    @field_validator("budgets")
    @classmethod
    def _budgets(cls, value: list[int]) -> list[int]:
        if any(not 1 <= b <= 10 for b in value) or len(set(value)) != len(value):
            raise ValueError("budgets are distinct numbers from 1 to 10")
        return value


def parse_verdict(text: str, n: int) -> tuple[list[bool], bool] | None:
    """(covered per tag, solvable) from the judge's reply, or None when any is missing."""
    marks: dict[int, bool] = {}
    for index, said in _COVER.findall(text):
        marks.setdefault(int(index), said.lower() in ("yes", "covered"))
    solvable = _SOLVABLE.findall(text)
    if not solvable or any(i not in marks for i in range(1, n + 1)):
        return None
    return [marks[i] for i in range(1, n + 1)], solvable[-1].lower() == "yes"


@kit.register
class TagEvol(kit.Recipe[Params]):
    meta = kit.Meta(
        "tag_evol", "Tag-Evol", entry=13, version="1", output="sft", section="evolution",
        summary="Tag every seed with fine-grained knowledge, pool the tags, and rewrite each "
        "seed to need b pooled tags (budgets 1, 3, 5): more tags, harder instructions.",
        inputs=frozenset({"instruction", "conversation", "text", "qa"}),
        roles=(kit.POLICY, kit.JUDGE), yield_per_item=0.0, spawns_per_item=24.0,
        needs=(kit.Need("EMB", "merging near-duplicate tags by embedding cosine",
                        "merge=lexical (ROUGE-L)", when=lambda p: p.merge == "embedding"),),
    )  # fmt: skip
    steps = (
        Step("GEN", "tag", "Fine-grained knowledge tags per seed (a JSON or plain list)."),
        Step("DEDUP-L", "merge", "Normalise; merge near-duplicates into the run's tag pool."),
        Step("DEDUP-E", "merge_e", "Optional: merge by embedding cosine instead."),
        Step("SAMPLE", "budget", "Per seed and budget b: b pooled tags relevant to the seed."),
        Step("GEN", "rewrite", "Rewrite the seed so that it needs all b tags."),
        Step("GEN", "respond", "Answer the rewritten instruction."),
        Step("CHECK", "elimination", "Evol-Instruct's rules (b)-(d) on rewrite and answer."),
        Step("JUDGE", "coverage", "Every tag covered and the rewrite solvable, else dropped."),
        Step("FMT", "sft", "instruction → response, with its tags and budget."),
    )
    deviations = (
        "Prompt wording is ours (tagger, rewrite, judge).",
        "The tag pool grows as chunks of seeds are tagged: an evolve item samples from the "
        "tags pooled so far (the whole pool on seed sets up to tag_chunk seeds).",
        "Relevance to the seed is word overlap with the seed and its own tags, among which "
        "the b tags are drawn from the top max(2b, b+3); the seed's own tags are not injected.",
        "Budgets 1, 3, 5 in one pass, not multi-round chains; tags_per_seed 8, ROUGE-L 0.75, "
        "cosine 0.9 and the judge (one call: coverage per tag and solvability) are ours.",
        "Evol-Instruct's elimination rules (b)-(d) are applied as well.",
    )

    async def setup(self, run: Any) -> None:
        p: Params = run.params
        if p.merge == "embedding":
            await run.embedding_pool("tags", p.cosine_threshold, [], [])
        else:
            run.rouge_pool("tags", p.lexical_threshold)

    def source(self, run: Any) -> Any:
        ids, size = [s.id for s in run.seeds], run.params.tag_chunk
        return ((f"te:tags:{i // size}", ids[i : i + size]) for i in range(0, len(ids), size))

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        if it.lane == "evolve":
            return await self.inject(it)
        p = it.params
        seeds = [it.host.seed(i) for i in it.payload]
        limit = p.tags_per_seed
        found = await asyncio.gather(
            *(tags.gen_tags(it, "tag", limit=limit, instruction=seed_prompt(s)) for s in seeds)
        )
        spawned = 0
        for seed, own in zip(seeds, found, strict=True):
            if not own:
                it.count("untagged_seed")
                continue
            pooled: list[str] = []
            for tag in own:
                canonical = await self.pool(it, tag)
                if canonical not in pooled:
                    pooled.append(canonical)
            for b in p.budgets:
                payload = {"seed": seed.id, "tags": pooled, "budget": b}
                await it.spawn(f"te:{seed.id}:b{b}", payload, lane="evolve")
                spawned += 1
        it.check(spawned > 0, "no_tags")
        return None

    async def pool(self, it: kit.Item[Params], tag: str) -> str:
        """② The tag's form in the run's pool: itself if new, else its near-duplicate's."""
        pool = it.host.pools["tags"]
        embed = isinstance(pool, EmbeddingPool)
        near = await (it.dedup_e("tags", tag) if embed else it.dedup_l("tags", tag))
        return tags.canonical_in_pool(pool, tag, near.nearest, near.novel)

    async def inject(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        seed = it.host.seed(it.payload["seed"])
        it.use_seeds(seed)
        own, b = list(it.payload["tags"]), int(it.payload["budget"])
        instruction = seed_prompt(seed)
        candidates = [t for t in tags.pool_texts(it.host.pools["tags"]) if t not in own]
        it.check(len(candidates) >= b, "tag_pool_too_small", f"{len(candidates)} for b={b}")
        shortlist = tags.relevant(instruction, candidates, tags.window(b), own=own)
        picked = await it.sample(shortlist, b)
        sampling: dict[str, Any] = {"temperature": p.temperature, "max_tokens": p.max_tokens}
        listed = "\n".join(f"- {t}" for t in picked)
        made = await it.gen("rewrite", instruction=instruction, tags=listed, budget=b, **sampling)
        evolved = unwrap(made.text)
        it.check(bool(evolved) and evolved != instruction and not made.truncated, "no_rewrite")
        reason = eliminate(evolved, None, [*BANNED, *OWN_BANNED])
        it.check(reason is None, reason or "", evolved[:500])
        answer = await it.gen("respond", instruction=evolved, **sampling)
        response = answer.text.strip()
        reason = eliminate(evolved, response, [*BANNED, *OWN_BANNED])
        it.check(reason is None, reason or "")
        metadata: dict[str, Any] = {"budget": b, "seed_tags": own, "original_instruction":
                                    instruction}  # fmt: skip
        extra: dict[str, Any] = {"tags": picked, "metadata": metadata}
        out: dict[str, Any] = {"step": f"inject:b{b}", "prompt_version": made.version}
        if not p.judge:
            return fmt.sft(evolved, response, extra=extra, **out)
        numbered = "\n".join(f"{i}. {t}" for i, t in enumerate(picked, 1))
        said = await it.gen("judge", role="judge", instruction=evolved, tags=numbered,
                            temperature=0.0, max_tokens=256)  # fmt: skip
        verdict = parse_verdict(said.text, len(picked))
        if verdict is None:
            raise kit.Drop("unparsable_judgement")
        covered, solvable = verdict
        missing = [t for t, ok in zip(picked, covered, strict=True) if not ok]
        it.check(not missing, "tags_not_covered", ", ".join(missing))
        it.check(solvable, "unsolvable")
        judged = Judged(1.0, [1.0], [said.text], "judge", said.version, said.model)
        metadata["coverage"] = {"covered": len(picked), "of": len(picked), "solvable": True}
        return fmt.sft(evolved, response, extra=extra, judge_score=1.0,
                       judgements=[fmt.judgement("coverage", judged)], **out)  # fmt: skip

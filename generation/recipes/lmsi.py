"""LMSI: Large Language Models Can Self-Improve (METHODS.md #2), one data round.

① SAMPLE few-shot CoT exemplars → ② GEN×m reasoning paths (T 0.7) → ③ extract the answers
and VOTE → ④ keep the paths whose answer is the majority's (optionally only when its vote
share reaches τ) → ⑤ FMT each kept path in the paper's mixed formats: few-shot CoT,
zero-shot "Let's think step by step", few-shot direct answer, zero-shot direct answer. The
self-improvement is fine-tuning on these rows, outside Seedbed. The list's summary (a
student/teacher feedback loop) does not match the paper (METHODS.md §6 errata #1): this is
the paper's self-consistency distillation.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import answers, fmt
from generation.recipes.kit.seeds import seed_prompt
from generation.recipes.star_exemplars import (
    Exemplar,
    WithExemplars,
    answer_line,
    render,
    reply_of,
)


class Params(RecipeParams):
    m: int = Field(32, ge=2, le=64, description="Reasoning paths sampled per question.")
    temperature: float = Field(0.7, gt=0.0, le=2.0, description="For the paths.")
    min_share: float = Field(
        0.0, ge=0.0, le=1.0, description="τ: keep only if the majority's vote share ≥ τ (0: off)."
    )
    answer_kind: answers.Kind = Field("auto", description="How answers are read for the vote.")
    few_shot: int = Field(4, ge=1, le=8, description="CoT exemplars in the few-shot prompt.")
    paths_per_call: int = Field(
        8, ge=1, le=64, description="Paths per request; requests run at once, each journaled."
    )
    max_tokens: int = Field(384, ge=16, le=4096)


@kit.register
class LMSI(WithExemplars, kit.Recipe[Params]):
    meta = kit.Meta(
        "lmsi", "LMSI (LLMs Can Self-Improve)", entry=2, version="1", output="sft",
        section="self_play", inputs=frozenset({"qa", "instruction"}), roles=(kit.POLICY,),
        yield_per_item=10.0,
        summary="Self-consistency distillation: many CoT paths per unlabelled question, the "
        "majority answer's paths kept, each written in four prompt formats.",
        needs=(kit.Need("N", "32 paths per question", "single requests in parallel (automatic)"),),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "exemplars", "Few-shot CoT exemplars: the seeds' worked examples."),
        Step("GEN", "few_shot", "m reasoning paths at temperature 0.7."),
        Step("VOTE", "majority", "Extract each path's answer; the majority answer wins."),
        Step("CHECK", "consistent", "Keep the majority's paths; ties and share < τ drop."),
        Step("FMT", "mixed_formats", "Few-shot CoT, zero-shot CoT, few-shot and zero-shot direct."),
    )
    deviations = (
        "One round: the self-improvement is fine-tuning on these rows, outside Seedbed. The "
        "list's summary (a student/teacher loop) does not match the paper (errata #1).",
        "Exemplars: `few_shot` (4) sampled per question from the seed set's worked examples, "
        "topped up with 4 built-in ones of ours, instead of the paper's fixed per-dataset CoT "
        "exemplars; prompt wording is ours.",
        "The two direct-answer formats are the same for every kept path, and a project stores "
        "a row once: each is one row per question, with `paths` saying how many paths it "
        "stands for (the paper repeats it per path).",
        "Seedbed adds filters: a tied majority is dropped, identical paths are kept once, and "
        "a path cut off at max_tokens does not vote.",
    )

    def source(self, run: Any) -> Any:
        return kit.Source.per_seed("lmsi", run.seeds)

    def pool(self, it: kit.Item[Params], seed: SeedRow) -> list[Exemplar]:
        own = list(self.own_exemplars(seed.id))
        return own + self.builtin[: max(0, it.params.few_shot - len(own))]

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        seed: SeedRow = it.payload
        it.use_seeds(seed)
        question = seed_prompt(seed)
        it.check(bool(question), "empty_question")
        pool = self.pool(it, seed)
        shots = [pool[i] for i in await it.sample(range(len(pool)), p.few_shot)]
        ask: dict[str, Any] = {"temperature": p.temperature, "max_tokens": p.max_tokens}
        ask |= {"exemplars": render(shots), "question": question, "stop": ["\nQ:"]}
        sizes = [min(p.paths_per_call, p.m - i) for i in range(0, p.m, p.paths_per_call)]
        got = await asyncio.gather(*(it.gen("few_shot", n=n, **ask) for n in sizes))
        paths = [reply_of(t) for g in got for t in g.texts]
        # A path cut off at max_tokens has no answer of its own: it does not vote.
        cut = [r == "length" for g in got for r in g.finish_reasons]
        key = answers.extractor(p.answer_kind)
        vote = it.vote(["" if c else t for t, c in zip(paths, cut, strict=True)], extract=key)
        it.check(vote.answer is not None, "no_answer")
        it.check(not answers.tied(vote), "tied_vote")
        it.check(vote.share >= p.min_share, "low_vote_share", f"share {vote.share:.3f}")
        kept = list(dict.fromkeys(paths[i] for i in vote.indices))
        if len(kept) < vote.count:
            it.count("duplicate_path", vote.count - len(kept))
        said = answers.extract(paths[vote.indices[0]], p.answer_kind) or str(vote.answer)
        return formats(it, question, shots, kept, answers.vote_record(vote, said))


def formats(
    it: kit.Item[Params],
    question: str,
    shots: list[Exemplar],
    kept: list[str],
    vote: dict[str, Any],
) -> list[kit.Piece]:
    """Direct-answer rows first (one each), then every kept path in both CoT formats."""
    prompts, said = it.host.prompts, vote["answer"]
    cot_few = prompts["few_shot"].render(exemplars=render(shots), question=question)
    direct_few = prompts["few_shot"].render(exemplars=render(shots, cot=False), question=question)
    cot_zero = prompts["zero_shot_cot"].render(question=question)

    def row(prompt: str, reply: str, form: str, suffix: str, **more: Any) -> kit.Piece:
        extra = {"vote": vote, "format": form, "answer": said, **more}
        return fmt.sft(prompt, reply, suffix=suffix, step=form, extra=extra)

    pieces = [
        row(direct_few, answer_line(said), "direct_few_shot", "direct_few", paths=len(kept)),
        row(question, answer_line(said), "direct_zero_shot", "direct_zero", paths=len(kept)),
    ]
    for j, path in enumerate(kept):
        pieces.append(row(cot_few, path, "cot_few_shot", f"{j}.cot_few", path=j))
        pieces.append(row(cot_zero, path, "cot_zero_shot", f"{j}.cot_zero", path=j))
    return pieces

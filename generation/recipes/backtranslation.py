"""Instruction Backtranslation (entry B3; Li, Yu, Zhou, Schick, Levy, Zettlemoyer, Weston and
Lewis, "Self-Alignment with Instruction Backtranslation", ICLR 2024, arXiv 2308.06259).

Human-written documents become the answers of SFT rows. ① SAMPLE a segment of a document
(long documents are cut at paragraph boundaries) → ② GEN, self-augmentation: the instruction
the segment would answer, from a prompted backward model shown (output → instruction)
examples from the seed set → ③ CHECK: an empty or unfinished instruction, or one that copies
the segment, is dropped → ④ JUDGE, self-curation: the paper's 5-point quality scale, three
samples averaged → ⑤ CHECK: keep a mean of at least 4.5 → ⑥ FMT SFT: user = the predicted
instruction, assistant = the segment as written.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.backtranslation_text import (
    Segment,
    copied_run,
    demo_pair,
    instruction_of,
    rating,
    render_demos,
    segments,
)
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kit import fmt

NO_DOCUMENTS = (
    "Instruction Backtranslation needs document seeds: their texts become the answers "
    "(instruction and conversation seeds only serve as examples)."
)


class Params(RecipeParams):
    max_segment_words: int = Field(
        400,
        ge=0,
        le=5000,
        description="Cut longer documents into segments of whole paragraphs of at most this "
        "many words (0: each document whole).",
    )
    min_segment_words: int = Field(
        30, ge=1, le=1000, description="Shorter segments are dropped: too little to answer."
    )
    few_shot: int = Field(
        3,
        ge=0,
        le=8,
        description="(output → instruction) examples from the set's instruction or "
        "conversation seeds, shown to the backward model.",
    )
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="Writing the instruction.")
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    max_instruction_tokens: int = Field(256, ge=16, le=2048)
    copy_words: int = Field(
        10,
        ge=3,
        le=100,
        description="An instruction that repeats this many words of the segment in a row "
        "copies it and is dropped.",
    )
    judge_samples: int = Field(3, ge=1, le=10, description="Quality ratings averaged per pair.")
    judge_temperature: float = Field(0.7, ge=0.0, le=2.0)
    keep_threshold: float = Field(
        4.5,
        ge=1.0,
        le=5.0,
        description="Keep pairs whose mean rating is at least this (paper: A5 keeps 5, A4 "
        "keeps 4 and 5; 4.5 over 3 ratings: two 5s and none under 4).",
    )
    system_tag: str = Field(
        "",
        max_length=500,
        description="Optional system prompt on every row (at fine-tuning the paper tags this "
        "data 'Answer with knowledge from web search.').",
    )


@kit.register
class InstructionBacktranslation(kit.Recipe[Params]):
    meta = kit.Meta(
        "backtranslation", "Instruction Backtranslation", entry="B3", version="1",
        output="sft", section="beyond",
        inputs=frozenset({"document", "instruction", "conversation"}),
        roles=(kit.POLICY, kit.JUDGE),
        needs=(kit.Need("N", "3 ratings per pair", "single requests in parallel (automatic)",
                        role="judge", when=lambda p: p.judge_samples > 1),),
        summary="Documents become answers: the model writes the instruction each segment "
        "answers (self-augmentation), rates the pair on a 5-point scale and keeps the best "
        "(self-curation).",
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "segment", "Each document segment once; examples from the seed set."),
        Step("GEN", "instruction", "The instruction the segment answers (backward model)."),
        Step("CHECK", "instruction_ok", "Empty, unfinished or copying the segment: dropped."),
        Step("JUDGE", "curate", "The 5-point quality scale, 3 ratings averaged."),
        Step("CHECK", "keep", "Mean rating ≥ 4.5 (two 5s and none under 4, of three)."),
        Step("FMT", "sft", "user = the predicted instruction, assistant = the segment."),
    )
    deviations = (
        "The backward model M_yx is prompted, not fine-tuned on the seed (output, "
        "instruction) pairs: up to 3 such pairs from the seed set's instruction or "
        "conversation seeds are shown as examples instead. The prompt wording is ours.",
        "One round of self-curation by the model given (the judge role) instead of the "
        "paper's two iterations, in which the model fine-tuned on the first round's A5 data "
        "curates again; a later round is a new run on that endpoint.",
        "The curation prompt's wording is ours; its five levels follow the paper's scale. "
        "Three ratings at temperature 0.7 are averaged (the paper takes one), so the pair "
        "has a confidence; the 4.5 threshold sits between the paper's A5 (= 5) and A4 (≥ 4).",
        "Segments are ours: the paper cuts ClueWeb pages after their HTML headers and filters "
        "them by length and heuristics; here documents longer than 400 words are cut at "
        "blank lines (long paragraphs at sentence ends, a markdown heading starts a segment), "
        "and segments under 30 words are dropped.",
        "Seedbed adds two filters: an instruction that repeats 10 words of the segment in a "
        "row (a copy), and one cut off at the token limit.",
        "The paper's training-time tag for augmented data ('Answer with knowledge from web "
        "search.') is an optional system prompt, off by default.",
    )

    @classmethod
    def check_start(cls, params: Any, seed_set: Any | None) -> None:
        kinds = set(getattr(seed_set, "kinds", None) or [])
        if kinds and "document" not in kinds:
            raise ValueError(NO_DOCUMENTS)

    async def setup(self, run: Any) -> None:
        if not any(s.kind == "document" for s in run.seeds):
            raise ValueError(NO_DOCUMENTS)
        self.demos = [s for s in run.seeds if demo_pair(s) is not None]

    def source(self, run: Any) -> Any:
        p = run.params
        for seed in run.seeds:
            if seed.kind == "document":
                for seg in segments(seed, p.max_segment_words, p.min_segment_words):
                    yield f"bt:{seed.id}:{seg.index}", seg

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        seg: Segment = it.payload
        it.use_seeds(seg.seed)
        it.check(seg.words >= p.min_segment_words, "segment_too_short", f"{seg.words} words")
        shown = await it.sample(self.demos, p.few_shot) if p.few_shot and self.demos else []
        pairs = [pair for pair in map(demo_pair, shown) if pair is not None]
        made = await it.gen(
            "instruction", examples=render_demos(pairs), text=seg.text, top_p=p.top_p,
            temperature=p.temperature, max_tokens=p.max_instruction_tokens,
            stop=["</request>"],
        )  # fmt: skip
        instruction = instruction_of(made.text)
        it.check(bool(instruction), "empty_instruction")
        it.check(not made.truncated, "unfinished_instruction")
        copies = copied_run(instruction, seg.text, p.copy_words)
        it.check(not copies, "copies_document", f"{p.copy_words}+ words of the segment in a row")
        several = p.judge_samples > 1
        judged = await it.judge(
            "curate", instruction=instruction, response=seg.text, samples=p.judge_samples,
            temperature=p.judge_temperature if several else 0.0, max_tokens=160, parse=rating,
        )  # fmt: skip
        it.check(judged.score is not None, "unjudgeable")
        score = float(judged.score or 0.0)
        it.check(score >= p.keep_threshold, "below_threshold", f"mean rating {score:.2f}")
        payload = seg.seed.payload
        metadata = {
            "document_title": payload.get("title") or "",
            "document_source": payload.get("source") or "",
            "segment": f"{seg.index + 1} of {seg.count}",
            "segment_words": seg.words,
            "examples": len(pairs),
        }
        extra: dict[str, Any] = {"source": "self_curation:backtranslation"}
        extra["scores"] = judged.scores
        extra["metadata"] = metadata
        return fmt.sft(
            instruction, seg.text, system=p.system_tag.strip() or None, step="self_curation",
            prompt_version=made.version, extra=extra, judge_score=score,
            judgements=[fmt.judgement("quality", judged)],
        )  # fmt: skip

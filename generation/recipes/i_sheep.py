"""I-SHEEP (METHODS.md #6): one model writes tasks, answers them, and judges its own answers.

① SAMPLE 3 seed tasks → ② GEN a new (instruction, input) with an Alpaca-style meta-prompt
→ ③ GEN its output zero-shot (same model) → ④ CHECK rules: empty or ill-formed tasks and
outputs, an input the instruction already contains, and (optional) the perplexity windows
on instruction+input (2.5-30) and output (1.5-70) → ⑤ JUDGE quality and instruction
following, 1-10 each, as `<score>||<explanation>` (same model) → ⑥ keep both > 8 → FMT SFT.
The paper iterates: train on what is kept, then generate again with the trained model. That
needs fine-tuning between rounds; a run is one round, and the next round is a new run
against the newly trained endpoint.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field, model_validator

from generation.llm import CapabilityError
from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.i_sheep_parse import (
    clean_output,
    explanation,
    input_in_instruction,
    output_rule,
    parse_pipe_score,
    parse_task,
    task_rule,
)
from generation.recipes.kit import fmt
from generation.recipes.kit.results import Judged


class Params(RecipeParams):
    few_shot: int = Field(3, ge=1, le=10, description="Seed tasks shown per new task.")
    novelty_threshold: float = Field(
        0.7, gt=0.0, le=1.0, description="New instructions with ROUGE-L above this vs the "
        "seeds and earlier instructions drop (1.0: only exact copies).",
    )  # fmt: skip
    temperature: float = Field(1.0, ge=0.0, le=2.0, description="For every call, judge too.")
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(1000, ge=16, le=8192)
    quality_above: float = Field(
        8.0, ge=0.0, le=10.0, description="Kept only when the quality self-score is above this."
    )
    following_above: float = Field(
        8.0, ge=0.0, le=10.0, description="Kept only when the following self-score is above this."
    )
    ppl_filter: Literal["auto", "on", "off"] = Field(
        "auto", description="Perplexity windows (PLP): auto = where the endpoint scores a given "
        "text, else skipped and counted; on = required; off = not applied.",
    )  # fmt: skip
    prompt_ppl_min: float = Field(2.5, ge=1.0, description="Instruction+input perplexity floor.")
    prompt_ppl_max: float = Field(30.0, ge=1.0, description="Instruction+input ceiling.")
    output_ppl_min: float = Field(1.5, ge=1.0, description="Output perplexity floor.")
    output_ppl_max: float = Field(70.0, ge=1.0, description="Output perplexity ceiling.")

    @model_validator(mode="after")
    def _windows(self) -> Params:
        if self.prompt_ppl_min >= self.prompt_ppl_max or self.output_ppl_min >= self.output_ppl_max:
            raise ValueError("a perplexity window's floor must be below its ceiling")
        return self


def seed_task(seed: SeedRow) -> tuple[str, str]:
    """A seed's instruction and its first instance's input."""
    first = (seed.payload.get("instances") or [{}])[0]
    return str(seed.payload.get("instruction") or seed.text).strip(), str(first.get("input") or "")


def shown(tasks: list[tuple[str, str]]) -> str:
    """The meta-prompt's examples, numbered, with <noinput> for an empty input."""
    return "\n".join(
        f"###\n{n}. Instruction: {' '.join(i.split())}\n{n}. Input:\n{x.strip() or '<noinput>'}"
        for n, (i, x) in enumerate(tasks, 1)
    )


def joined(instruction: str, given: str) -> str:
    return f"{instruction}\n\n{given}" if given else instruction


@kit.register
class ISheep(kit.Recipe[Params]):
    meta = kit.Meta(
        "i_sheep", "I-SHEEP", entry=6, version="1", output="sft", section="self_play",
        summary="One model writes new tasks from 3 seed tasks, answers them zero-shot, filters "
        "by rules (and perplexity where the endpoint can score text) and keeps what it rates "
        "above 8 for both quality and instruction following.",
        inputs=frozenset({"instruction"}), roles=(kit.POLICY,), yield_per_item=0.5,
        needs=(kit.Need(
            "PLP", "perplexity windows on instruction+input and on the output",
            'with ppl_filter "auto" the filter is skipped and counted',
            when=lambda p: p.ppl_filter == "on",
        ),),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "examples", "3 seed tasks (instruction, input) as demonstrations."),
        Step("GEN", "new_task", "An Alpaca-style meta-prompt asks for one new task."),
        Step("CHECK", "task_rules", "Ill-formed tasks; an input the instruction contains."),
        Step("DEDUP-L", "novelty", "ROUGE-L ≤ 0.7 against the seeds and earlier instructions."),
        Step("GEN", "respond", "The output, zero-shot, from the same model."),
        Step("CHECK", "output_rules", "Empty or ill-formed outputs."),
        Step("CHECK", "perplexity", "Instruction+input 2.5-30, output 1.5-70 (where PLP)."),
        Step("JUDGE", "quality", "Quality 1-10 as <score>||<explanation> (same model)."),
        Step("JUDGE", "following", "Instruction following 1-10, same format and model."),
        Step("CHECK", "self_scores", "Keep both scores > 8."),
        Step("FMT", "sft", "instruction (+ input) → output, with both self-scores."),
    )
    deviations = (
        "Only one round: I-SHEEP's iterations fine-tune the model on what a round kept; here a "
        "round is a run, and the next round is a new run against the newly trained endpoint.",
        "The paper's scale is 10k tasks per iteration; a run makes the target count its user sets.",
        "The prompts' wording is ours (the meta-prompt keeps the reference's requirements, the "
        "judge prompts its 1-10 anchors and the <score>||<explanation> format).",
        "The new task is written by text completion, continuing the meta-prompt after "
        '"N. Instruction:" as the reference does (chat where the endpoint has no /v1/completions;'
        " chat models tend to skip the instruction). The output is a chat reply to the "
        "instruction and input, where the reference prompts a base model with raw text.",
        'Perplexity needs logprobs of a given text (PLP): "auto" applies the windows where '
        "the endpoint serves them and otherwise skips the filter and notes "
        '"ppl_filter_skipped" (a run note). As in the reference code, the output is scored '
        "on its own and the instruction+input as one text.",
        "The rules are ours in the reference's spirit (field labels or role markers, the "
        "empty-input placeholder, web addresses, instructions of 3 words or fewer); its "
        "English-only and multiple-choice output rules are left out.",
        "The ROUGE-L novelty filter (≤ 0.7) comes from the reference code's generation step "
        "(inherited from Alpaca); the row does not list it.",
    )

    async def setup(self, run: Any) -> None:
        seeds = [seed_task(s)[0] for s in run.seeds]
        run.rouge_pool("instructions", run.params.novelty_threshold, seeds)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("isheep")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        sampling: dict[str, Any] = {"temperature": p.temperature, "top_p": p.top_p}
        sampling["max_tokens"] = p.max_tokens
        examples = [seed_task(s) for s in await it.sample(it.seeds, p.few_shot)]
        nxt = len(examples) + 1
        made = await it.gen(
            "new_task", examples=shown(examples), count=len(examples), next=nxt, api="auto",
            stop=["###"], **sampling,
        )  # fmt: skip
        task = parse_task(made.text)
        if task is None:
            raise kit.Drop("unparsable_task")
        instruction, given = task
        it.check(not (made.truncated and "###" not in made.text), "truncated_task")
        broken = task_rule(instruction, given)
        it.check(broken is None, "ill_formed_task", broken or "")
        it.check(not input_in_instruction(instruction, given), "input_in_instruction", given)
        novelty = await it.dedup_l("instructions", instruction)
        it.check(novelty.novel, "copies_seed_or_task", f"ROUGE-L {novelty.score}")
        prompt = joined(instruction, given)
        answered = await it.gen("respond", task=prompt, **sampling)
        output = clean_output(answered.text)
        it.check(not answered.truncated, "truncated_output")
        it.check(bool(output), "empty_output")
        broken = output_rule(output)
        it.check(broken is None, "ill_formed_output", broken or "")
        ppl = await self._perplexity(it, instruction, given, output)
        ask: dict[str, Any] = {"task": prompt, "response": output, "maximum": 10.0}
        ask.update(parse=parse_pipe_score, temperature=p.temperature, top_p=p.top_p)
        quality, following = await asyncio.gather(
            it.judge("quality", role="policy", **ask), it.judge("following", role="policy", **ask)
        )
        it.check(None not in (quality.score, following.score), "unparsable_judgement")
        q, f = float(quality.score or 0), float(following.score or 0)
        it.check(q > p.quality_above and f > p.following_above, "low_self_score", f"{q:g}/{f:g}")
        metadata = {
            "instruction": instruction, "input": given, "quality": q, "following": f,
            "explanations": {"quality": _said(quality), "following": _said(following)},
            "ppl_filter": ppl.pop("filter"), "perplexity": ppl or None,
        }  # fmt: skip
        verdicts = [fmt.judgement("quality", quality), fmt.judgement("following", following)]
        return fmt.sft(
            prompt, output, step="self_scores", prompt_version=answered.version,
            extra={"metadata": metadata, "source": "self_assessment:i_sheep"},
            judge_score=min(q, f), judgements=verdicts,
        )  # fmt: skip

    async def _perplexity(
        self, it: kit.Item[Params], instruction: str, given: str, output: str
    ) -> dict[str, Any]:
        """CHECK the perplexity windows where asked and possible; what was found."""
        p = it.params
        if p.ppl_filter == "off":
            return {"filter": "off"}
        found: dict[str, Any] = {"filter": "applied"}
        windows = (
            ("prompt", f"{instruction}\n{given}" if given else instruction,
             p.prompt_ppl_min, p.prompt_ppl_max),
            ("output", output, p.output_ppl_min, p.output_ppl_max),
        )  # fmt: skip
        for name, text, low, high in windows:
            try:
                scored = await it.score_text(text)
            except CapabilityError:
                if p.ppl_filter == "on":
                    raise
                it.note("ppl_filter_skipped")
                return {"filter": "skipped"}
            value = scored.perplexity
            if value is None:  # too short to score: no token has a logprob
                it.note("ppl_unscored")
                continue
            found[name] = round(value, 3)
            it.check(low < value < high, "ppl_window", f"{name} {value:.2f} not in ({low}, {high})")
        return found


def _said(judged: Judged) -> str:
    return explanation(judged.raw[0])[:1000] if judged.raw else ""

"""CoT-Self-Instruct (METHODS.md #27): reason about seed prompts, then write a new one.

① SAMPLE 2 seed prompts → ② GEN: think about them step by step, then write a new prompt
(verifiable tasks: and its final answer as \\boxed{} between explicit tags) → DEDUP-L: no
copies of a seed or an earlier prompt → ③ verifiable: GEN×K solutions, VOTE; the prompt is
kept when the majority answer is the generated one (Answer-Consistency) → ④ general: GEN×K
responses, each scored by the judge (standing in for the reward model); RIP keeps the prompt
when its lowest score clears a percentile of the run's pool of lowest scores → ⑤ FMT the
prompt with a consistent solution and its reference answer, or (general) with its best
response, or its best and worst responses as a preference pair.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step
from generation.recipes.cot_self_instruct_rip import admit, new_question, percentile, tagged
from generation.recipes.kit import answers, fmt
from generation.recipes.kit.pairing import best_vs_worst
from generation.recipes.kit.results import Gen
from generation.recipes.kit.seeds import seed_prompt


class Params(RecipeParams):
    task_type: Literal["verifiable", "general"] = Field(
        "verifiable",
        description="verifiable: problems with a checkable answer (Answer-Consistency); "
        "general: open prompts (RIP on judge scores).",
    )
    seeds_per_prompt: int = Field(2, ge=1, le=8, description="Seed prompts shown per new one.")
    k: int = Field(16, ge=2, le=64, description="Solutions (verifiable) or responses (general).")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="For writing the new prompt.")
    solve_temperature: float = Field(0.7, gt=0.0, le=2.0, description="For the K answers.")
    answer_kind: answers.Kind = Field(
        "auto", description="How answers are read and compared (auto: by the generated answer)."
    )
    rip_percentile: float = Field(
        50.0, ge=0.0, le=100.0, description="General: lowest score ≥ this percentile of the pool."
    )
    general_output: Literal["sft", "pair"] = Field(
        "sft", description="General: the best response (sft), or best vs worst (pair)."
    )
    novelty_threshold: float = Field(
        0.7, gt=0.0, le=1.0, description="New prompts with ROUGE-L above this vs the pool drop."
    )
    max_tokens: int = Field(1024, ge=16, le=8192)


@kit.register
class CoTSelfInstruct(kit.Recipe[Params]):
    meta = kit.Meta(
        "cot_self_instruct", "CoT-Self-Instruct", entry=27, version="1", output="sft+preference",
        section="other", roles=(kit.POLICY, kit.JUDGE),
        inputs=frozenset({"qa", "instruction", "conversation"}),
        summary="Reason about seed prompts, write a new one; keep verifiable problems whose "
        "majority answer is the generated one, and general prompts whose weakest response "
        "still scores well (RIP).",
        needs=(kit.Need("N", "16 answers per prompt", "single requests in parallel (automatic)"),),
    )  # fmt: skip
    shared_prompts = ("additive_5pt",)
    steps = (
        Step("SAMPLE", "seeds", "2 seed prompts."),
        Step("GEN", "new_prompt", "Reason about the seeds, then write a new prompt (+ answer)."),
        Step("DEDUP-L", "novelty", "ROUGE-L ≤ 0.7 against the seeds and earlier prompts."),
        Step("GEN", "solve", "Verifiable: K solutions; general: K responses."),
        Step("VOTE", "consistency", "Verifiable: the majority answer must be the generated one."),
        Step("JUDGE", "additive_5pt", "General: score each response 0-5 (the reward model)."),
        Step("CHECK", "rip", "General: the lowest score ≥ the pool's median (percentile)."),
        Step("FMT", "sft_or_pair", "Prompt + solution + reference answer; or best vs worst."),
    )
    deviations = (
        "General prompts are scored by the run's judge model with the additive 5-point rubric "
        "instead of a trained reward model.",
        "RIP's percentile is over the run's pool of lowest scores so far (up to 5000 of them), not "
        "over a finished pool: the first prompts of a run meet a smaller pool.",
        "K = 16, 2 seeds per prompt and the median as RIP's cut are our defaults (the row "
        "marks them [~]); prompt wording is ours, with our own tags for the new prompt.",
        "Seedbed adds a novelty filter (ROUGE-L ≤ 0.7 against seeds and earlier prompts) and "
        "drops ties in the answer vote; the SFT row carries one consistent solution (or the "
        "best response) so that it can be reviewed and trained on.",
    )

    async def setup(self, run: Any) -> None:
        # The templates' placeholders too: a small model may hand them back as its prompt.
        known = [seed_prompt(s) for s in run.seeds] + ["the new problem", "the new prompt"]
        run.rouge_pool("prompts", run.params.novelty_threshold, known)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("csi")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        shown = await it.sample(it.seeds, p.seeds_per_prompt)
        listed = "\n\n".join(f"Seed {i}:\n{seed_prompt(s)}" for i, s in enumerate(shown, 1))
        template = "verifiable" if p.task_type == "verifiable" else "general"
        made = await it.gen(
            template, seeds=listed, temperature=p.temperature, max_tokens=p.max_tokens
        )
        if p.task_type == "verifiable":
            plan, prompt, gold = new_question(made.text)
            it.check(bool(prompt), "no_question")
            it.check(gold is not None, "no_answer")
        else:
            plan, prompt = tagged(made.text, "prompt")
            gold = None
            it.check(bool(prompt), "no_prompt")
        novelty = await it.dedup_l("prompts", prompt)
        it.check(novelty.novel, "copies_seed_or_prompt", f"ROUGE-L {novelty.score}")
        meta = {"task_type": p.task_type, "plan": plan, "seeds": [seed_prompt(s) for s in shown]}
        if gold is not None:
            return await self.consistent(it, prompt, gold, meta)
        return await self.rip(it, prompt, meta)

    async def consistent(
        self, it: kit.Item[Params], question: str, gold: str, meta: dict[str, Any]
    ) -> kit.Piece:
        """Answer-Consistency: K solutions; the generated answer must be their sole majority."""
        p = it.params
        kind = answers.kind_of(gold) if p.answer_kind == "auto" else p.answer_kind
        solved = await k_answers(it, "solve", question=question)
        vote = it.vote(solved.texts, extract=answers.extractor(kind))
        it.check(vote.answer is not None, "no_solution_answer")
        same = not answers.tied(vote) and answers.matches(vote.answer, gold, kind)
        detail = f"majority {vote.answer!r} ({vote.count}/{p.k}) vs generated {gold!r}"
        it.check(same, "inconsistent_answer", detail)
        extra = {"gold": gold, "vote": answers.vote_record(vote), "metadata": meta}
        solution = solved.texts[vote.indices[0]].strip()
        return fmt.sft(question, solution, step="consistency", extra=extra)

    async def rip(self, it: kit.Item[Params], prompt: str, meta: dict[str, Any]) -> kit.Piece:
        """RIP: K responses judged; the prompt stays if its lowest score clears the pool's cut."""
        p = it.params
        replies = await k_answers(it, "respond", prompt=prompt)
        judged = await asyncio.gather(
            *(it.judge("additive_5pt", prompt=prompt, response=t) for t in replies.texts)
        )
        scores = [j.score for j in judged]
        known = [s for s in scores if s is not None]
        it.check(len(known) >= 2, "unjudgeable")
        low = min(known)
        cut = percentile(admit(it.host.state, it.key, low), p.rip_percentile)
        it.check(low >= cut, "rip_low_min_score", f"lowest {low} < p{p.rip_percentile:g} {cut:.3f}")
        extra = {"scores": scores, "min_score": low, "rip_cut": round(cut, 4), "metadata": meta}
        if p.general_output == "pair":
            best, worst = best_vs_worst(scores)  # drops all-equal scores
            verdicts = [
                fmt.judgement("chosen", judged[best]),
                fmt.judgement("rejected", judged[worst]),
            ]
            return fmt.dpo(
                prompt,
                replies.texts[best],
                replies.texts[worst],
                step="rip",
                extra=extra,
                judge_score=scores[best],
                judgements=verdicts,
            )
        best = max(
            (i for i, s in enumerate(scores) if s is not None), key=lambda i: (scores[i], -i)
        )
        verdicts = [fmt.judgement("best", judged[best])]
        return fmt.sft(
            prompt,
            replies.texts[best],
            step="rip",
            extra=extra,
            judge_score=scores[best],
            judgements=verdicts,
        )


async def k_answers(it: kit.Item[Params], template: str, **values: Any) -> Gen:
    """GEN×K: the K solutions or responses to a new prompt."""
    p = it.params
    return await it.gen(
        template, n=p.k, temperature=p.solve_temperature, max_tokens=p.max_tokens, **values
    )

"""Evol-Instruct / WizardLM (METHODS.md #11): operator-based rewriting with elimination.

Every instruction in the pool is evolved once per round: ① pick one operator uniformly
from 5 in-depth {add constraints, deepening, concretizing, increase reasoning steps,
complicate input} and 1 in-breadth {mutation} → ② GEN the rewrite → ③ GEN its response →
④ elimination → ⑤ a success spawns its own evolution in the next round; a failure
re-queues its parent there instead. M = 4 rounds. Lineage: parent, operator and round.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step, content_key
from generation.recipes.evol_instruct_rules import BANNED, eliminate, equality
from generation.recipes.kit import fmt
from generation.recipes.kit.seeds import seed_prompt

DEPTH_OPS = ("add_constraints", "deepening", "concretizing", "reasoning", "complicate_input")
BREADTH_OPS = ("mutation",)
OPERATORS = DEPTH_OPS + BREADTH_OPS


class Params(RecipeParams):
    rounds: int = Field(4, ge=1, le=10, description="Evolution rounds (M).")
    temperature: float = Field(1.0, ge=0.0, le=2.0, description="Evolve and respond (reference).")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Evolve and respond (reference).")
    equality_check: bool = Field(
        True, description="Rule (a): drop rewrites with no information gain."
    )
    banned_phrases: list[str] = Field(
        default_factory=lambda: list(BANNED),
        description="Rule (d): a rewrite containing any of these (case-insensitive) is dropped.",
    )
    max_tokens: int = Field(2048, ge=16, le=8192)
    dedup_e: Literal["off", "flag", "drop"] = Field(
        "off",
        description="DEDUP-E: compare each evolved instruction with the run's pool (local "
        "MiniLM); drop near-copies (their parent is re-queued) or flag them.",
    )
    dedup_e_threshold: float = Field(0.95, gt=0.0, le=1.0, description="Cosine for DEDUP-E.")


@kit.register
class EvolInstruct(kit.Recipe[Params]):
    meta = kit.Meta(
        "evol_instruct", "Evol-Instruct", entry=11, version="2", output="sft", section="evolution",
        summary="Evolve instructions round by round with 5 in-depth and 1 in-breadth operators.",
        inputs=frozenset({"instruction", "conversation", "text", "qa"}),
        roles=(kit.POLICY, kit.JUDGE), spawns_per_item=1.0,
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "operator", "One of 6 operators, uniformly."),
        Step("GEN", "evolve", "Rewrite the instruction (adds 10-20 words)."),
        Step("CHECK", "template_words", "Rule (d): no copied template words."),
        Step("GEN", "respond", "Answer the evolved instruction."),
        Step("CHECK", "elimination", "Rules (b), (c): short 'sorry', stop-words only."),
        Step("JUDGE", "equal", "Rule (a): no information gain vs the parent; unparsable drops."),
        Step("DEDUP-E", "near_copy", "Optional: cosine vs the run's pool; drop or flag."),
        Step("FMT", "sft", "instruction → response, with parent, operator and round."),
    )
    deviations = (
        "All five in-depth operators are wired (the public script wires four).",
        "Prompt wording is ours; operator definitions follow the paper. Rule (d) bans the "
        "reference's template words and those of our own prompts.",
        "Rounds overlap: an instruction's next evolution starts as soon as it succeeds "
        "(lower rounds first), instead of waiting for the whole round.",
        "DEDUP-E (off by default; not in the paper): an embedding near-copy check whose drops "
        "count as eliminations.",
    )

    async def setup(self, run: Any) -> None:
        p: Params = run.params
        if p.dedup_e != "off":
            await run.embedding_pool("instructions", p.dedup_e_threshold, [], [])

    def source(self, run: Any) -> Any:
        return kit.Source.per_seed("ev:r0", run.seeds)

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        if isinstance(it.payload, SeedRow):
            it.use_seeds(it.payload)
            r, parent, parent_key = 0, seed_prompt(it.payload), None
            seeds = [it.payload.id]
        else:
            r, parent = it.payload["round"], it.payload["parent_instruction"]
            parent_key, seeds = it.payload["parent_key"], it.payload["seed_ids"]
            it.seed_ids = list(seeds)
        op = it.rng.choice(OPERATORS)
        carry = {"op": op, "round": r, "parent_key": parent_key, "parent_instruction": parent}
        try:
            instruction, response, extra = await self.evolve(it, op, parent)
        except kit.Drop:
            await self.next_round(it, r, parent, parent_key, seeds)  # the parent goes again
            raise
        await self.next_round(it, r, instruction, it.key, seeds)
        extra |= {**carry, "instruction": instruction}
        return fmt.sft(
            instruction, response, step=f"evolve:{op}", parent_key=parent_key, extra=extra
        )

    async def evolve(self, it: kit.Item[Params], op: str, parent: str) -> tuple[str, str, Any]:
        p = it.params
        sampling: dict[str, Any] = {"temperature": p.temperature, "top_p": p.top_p}
        sampling["max_tokens"] = p.max_tokens
        if op in DEPTH_OPS:
            method = it.host.prompts[f"op_{op}"].render().strip()
            evolved = await it.gen("depth_common", method=method, instruction=parent, **sampling)
        else:
            evolved = await it.gen("breadth", instruction=parent, **sampling)
        instruction = evolved.text.strip()
        reason = eliminate(instruction, None, p.banned_phrases)
        it.check(reason is None, reason or "", instruction[:500])
        answer = await it.gen("respond", instruction=instruction, **sampling)
        response = answer.text.strip()
        reason = eliminate(instruction, response, p.banned_phrases)
        it.check(reason is None, reason or "")
        if p.equality_check:
            verdict = await it.gen("equal", role="judge", first=parent, second=instruction,
                                   temperature=0.0, max_tokens=8)  # fmt: skip
            same = equality(verdict.text)
            it.check(same is not None, "unparsable_equality")
            it.check(not same, "no_information_gain")
        extra: dict[str, Any] = {}
        if p.dedup_e != "off":
            near = await it.dedup_e("instructions", instruction)
            it.check(near.novel or p.dedup_e != "drop", "near_duplicate")
            if not near.novel:
                extra["dedup_e"] = {"nearest": near.nearest, "cosine": near.score}
        return instruction, response, extra

    async def next_round(
        self, it: kit.Item[Params], r: int, text: str, parent_key: str | None, seeds: list[int]
    ) -> None:
        if r + 1 < it.params.rounds:
            payload = {
                "round": r + 1,
                "parent_instruction": text,
                "parent_key": parent_key,
                "seed_ids": seeds,
            }
            await it.spawn(
                f"ev:r{r + 1}:{content_key(it.key)}", payload, lane="evolve", priority=r + 1
            )

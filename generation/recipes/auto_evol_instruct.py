"""Auto Evol-Instruct (METHODS.md #12): optimise the evolving method, then evolve with it.

The run's first work item, "aei:optimize", runs the optimisation (auto_evol_instruct_optimize:
trajectories → issues → candidate methods → dev-set failure rates → best, for
`optimize_steps` iterations) from the run's current "method" prompt. Its steps are
journaled like any item's, so a slice boundary or a crash resumes it mid-way. It then ⑥
spawns one evolve item per seed, carrying the final method's text and version in its
payload; each evolves its seed once with that method, answers it, and keeps the pair
unless the failure detector objects. Rows name the method version in
`metadata.method_version` and in their prompt version.

The optimised method is kept as a versioned prompt: the project's next version of this
recipe's "method" prompt (what the Prompts page shows as p1, p2, …), so the next run
starts from it. The optimize item saves it itself, once the loop is done and before it
spawns, through `generation/runs/run_prompts.save_run_prompt` on the driver's database
thread: that verb is idempotent per (run, item), so a resumed item gets the version it
made before (and that version's text) instead of a second one. Saving inside `make`
rather than when the item's results are stored keeps the version number in the payloads
the item spawns; nothing is saved when no candidate beat the starting method.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.auto_evol_instruct_method import (
    failure,
    method_text,
    parse_method,
)
from generation.recipes.auto_evol_instruct_optimize import evolve, in_db, optimise, respond
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.seeds import seed_prompt
from generation.recipes.prompts import PromptError

OPTIMIZER = kit.Role(
    "optimizer", "Analyses evolution trajectories and rewrites the method.", False, "policy"
)


class Params(RecipeParams):
    optimize_steps: int = Field(
        3, ge=0, le=10, description="Optimisation iterations (EvolKit's evolve epochs); 0 "
        "evolves with the current method as it is."
    )  # fmt: skip
    mini_batch: int = Field(
        5, ge=1, le=50, description="Seeds whose evolution trajectories are analysed per "
        "iteration (EvolKit's mini-batch)."
    )  # fmt: skip
    evolve_steps: int = Field(2, ge=1, le=5, description="Evolutions per trajectory (l).")
    n_methods: int = Field(3, ge=1, le=8, description="Candidate methods per iteration (m).")
    dev_size: int = Field(
        5, ge=1, le=100, description="Seeds in the dev set that scores each candidate."
    )
    temperature: float = Field(0.2, ge=0.0, le=2.0, description="Evolving and answering.")
    optimizer_temperature: float = Field(
        0.7, ge=0.0, le=2.0, description="Candidate methods (sampled n_methods times)."
    )
    max_tokens: int = Field(1024, ge=64, le=8192)


@kit.register
class AutoEvolInstruct(kit.Recipe[Params]):
    meta = kit.Meta(
        "auto_evol_instruct", "Auto Evol-Instruct", entry=12, version="1", output="sft",
        section="evolution", inputs=frozenset({"instruction", "conversation", "text", "qa"}),
        summary="An optimizer LLM improves the evolving method on a dev set (lowest failure "
        "rate wins), keeps it as a prompt version, then every seed is evolved with it.",
        roles=(kit.POLICY, OPTIMIZER), yield_per_item=0.0, spawns_per_item=10.0,
        needs=(kit.Need("MM", "an optimizer LLM other than the evol LLM",
                        "the evol LLM optimises its own method", role="optimizer"),),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "dev_set", "Dev set and, per iteration, a mini-batch of seeds."),
        Step("GEN", "trajectory", "Evolve the mini-batch l times with the current method."),
        Step("GEN", "analyse", "Optimizer: the issues of each evolution trajectory."),
        Step("GEN", "candidates", "Optimizer: m improved methods from the issues."),
        Step("GEN", "dev_evolve", "Each candidate evolves the dev set; the rewrites answered."),
        Step("CHECK", "failure_rate", "Failure detector; the lowest rate becomes the method."),
        Step("FMT", "method_version", "The final method saved as the next prompt version."),
        Step("GEN", "evolve", "Every seed evolved once with the final method."),
        Step("GEN", "respond", "Answer the evolved instruction."),
        Step("CHECK", "failure", "The failure detector on the rewrite and its answer."),
        Step("FMT", "sft", "evolved instruction → response, with the method version."),
    )
    deviations = (
        "Prompt wording is ours; the universal initial method's four steps (methods list, "
        "plan, rewrite, review) and the Step N: #name# format follow the paper and EvolKit.",
        "Defaults: mini-batch 5, 3 candidate methods, 3 iterations (EvolKit's evolve "
        "epochs) and dev set 5 are EvolKit's; evolve_steps l = 2 and the optimizer's "
        "temperature 0.7 are ours. EvolKit's batch size only paces its loop: the driver "
        "keeps the endpoint busy instead.",
        "The dev set is drawn from the seeds and those seeds are evolved too (EvolKit holds "
        "them out).",
        "The failure detector is the reference code's keyword rules, plus an unchanged "
        "rewrite as stagnant complexity and Evol-Instruct's elimination rules (b)-(d).",
        "The best candidate of an iteration replaces the method even when the previous one "
        "scored lower, as in the paper; a candidate that does not parse as steps is skipped.",
    )

    @classmethod
    def validate_prompt(cls, name: str, text: str) -> None:
        if name == "method":
            parse_method(text)

    def source(self, run: Any) -> Any:
        return iter([("aei:optimize", None)])

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        if it.lane == "evolve":
            return await self.evolve_seed(it)
        it.check(bool(it.seeds), "no_seeds")
        start = it.host.prompts["method"]
        try:
            method, version = method_text(parse_method(start.text)), start.version
        except PromptError as exc:
            raise kit.Drop("invalid_method", str(exc)) from exc
        state: dict[str, Any] = {"start_version": version, "history": []}
        if it.params.optimize_steps:
            found = await optimise(it, method)
            state |= {"history": found.history, "failure_rate": found.failure_rate}
            if found.method != method:
                from generation.runs.run_prompts import save_run_prompt

                detail = {"failure_rate": found.failure_rate, "from_version": version}
                saved = await in_db(it.host, save_run_prompt, it.host.run_id, it.key, "method",
                                    found.method, detail)  # fmt: skip
                method, version = saved.text, f"project:p{saved.version}"
        it.host.state["auto_evol_instruct"] = {**state, "method_version": version}
        for seed in it.seeds:
            payload = {"seed": seed.id, "method": method, "method_version": version}
            await it.spawn(f"aei:ev:{seed.id}", payload, lane="evolve")
        return None

    async def evolve_seed(self, it: kit.Item[Params]) -> kit.Out:
        seed = it.host.seed(it.payload["seed"])
        it.use_seeds(seed)
        original, version = seed_prompt(seed), str(it.payload["method_version"])
        evolved = await evolve(it, str(it.payload["method"]), original)
        reason = failure(original, evolved, None)
        it.check(reason is None, reason or "", (evolved or "")[:500])
        response = await respond(it, str(evolved))
        reason = failure(original, evolved, response)
        it.check(reason is None, reason or "")
        extra = {"metadata": {"method_version": version, "original_instruction": original}}
        return fmt.sft(str(evolved), response, step="evolve", prompt_version=version, extra=extra)

"""ToolGrad (METHODS.md #47, Zhou et al. 2025, arXiv 2508.04086): tool-use data built
answer-first, by textual "gradients".

① init an empty workflow → per step: ② forward: SAMPLE a mini-batch of candidate APIs from
the executable pool, GEN the next call (a tool call), EXEC it through the tool simulator
(`it.tool`: the implementation in the sandbox) → ③ backward: GEN a textual gradient (a
critique of the step and what the next call should do, ending keep/drop) → ④ update: the
call joins the chain only if it executed and the gradient keeps it; the critique goes to the
next forward step (a failed call is repaired there) → after `steps` steps: ⑤ GEN the user
request the chain answers, CHECK that it states every value the calls need → ⑥ GEN the final
answer, JUDGE request/chain/answer consistency → FMT a tool trajectory.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.apigen import executable
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kit import fmt
from generation.recipes.toolgrad_workflow import (
    Link,
    candidates,
    clean_query,
    critique,
    decision,
    missing,
    proposed,
    render,
    trajectory,
    value_lines,
)
from generation.tools import bfcl
from generation.tools.definitions import TOOL_KIND, ToolDef
from generation.tools.simulator import simulator_for

NO_FEEDBACK = "(none yet: this is the first step)"


class Params(RecipeParams):
    steps: int = Field(
        3, ge=1, le=10, description="Forward/backward steps (iterations) per workflow."
    )
    batch_size: int = Field(
        5, ge=1, le=50, description="Candidate APIs sampled from the pool per step (mini-batch)."
    )
    min_calls: int = Field(
        1, ge=1, le=10, description="Calls the final chain needs at least (else dropped)."
    )
    executable_only: bool = Field(
        True,
        description="Sample only APIs with a Python implementation (else the tool "
        "simulator's LLM answers the others).",
    )
    judge_samples: int = Field(2, ge=1, le=10, description="Consistency judgements averaged.")
    judge_threshold: float = Field(
        4.0, ge=1.0, le=5.0, description="Least mean consistency score (1-5) that passes."
    )
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(512, ge=64, le=4096)


@kit.register
class ToolGrad(kit.Recipe[Params]):
    meta = kit.Meta(
        "toolgrad", "ToolGrad", entry=47, version="1", output="tool_trajectory",
        section="tools", inputs=frozenset({TOOL_KIND}), roles=(kit.POLICY, kit.JUDGE),
        summary="Tool chains grown call by call from executable APIs, each step executed and "
        "critiqued by a textual gradient; the user request is written last, for the chain.",
        needs=(
            kit.Need("SBX", "every step's call runs its Python implementation",
                     "APIs without one are answered by the tool simulator's LLM "
                     "(executable_only off)"),
            kit.Need("RT", "the chain's calls are executed, not imagined",
                     "the tool simulator (cache, implementation, LLM)"),
        ),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "mini_batch", "Each step: 5 candidate APIs from the executable pool."),
        Step("GEN", "forward", "The next call of the workflow (a tool call), given the chain "
             "so far with its results and the last critique."),
        Step("EXEC", "execute", "The call through the tool simulator (its implementation in "
             "the sandbox); unknown tool, bad arguments, a repeat or an error fail the step."),
        Step("GEN", "backward", "A textual gradient: what the step did for the workflow, what "
             "the next call should do, keep or drop."),
        Step("CHECK", "update", "The call joins the chain only if it executed and was kept; "
             "the critique goes to the next forward step. 3 steps; an empty chain drops."),
        Step("GEN", "query", "Answer-first: the user request this chain answers."),
        Step("CHECK", "mentions", "The request states every argument value the calls need "
             "(values taken from an earlier result excepted)."),
        Step("GEN", "answer", "The final answer from the chain's results."),
        Step("JUDGE", "consistency", "Request, chain and answer fit together: 1-5, 2 samples, "
             "mean ≥ 4 passes."),
        Step("FMT", "tool_trajectory", "User request, one assistant tool call and its result "
             "per step, the final answer, the tools shown."),
    )  # fmt: skip
    deviations = (
        "Prompt wording is ours; the loop (propose, execute, critique, update, then the query "
        "and response predicted from the chain) follows the paper and its reference code.",
        "One proposal per step instead of the reference code's three proposals and a selector: "
        "the backward step's keep/drop decision plays the selector.",
        "Calls are one chain (a sequence), not the reference code's workflow of several "
        "parallel chains.",
        "The reference code's executor agent retries a failing API within the step; here a "
        "failed call is dropped and its critique reaches the next forward step, which may "
        "repair it.",
        "The query and the final answer are two GENs (the paper's inverse predictor writes "
        "both at once).",
        "Added filters (ours): the request must state every argument value a call needs "
        "(deterministic), and a 1-5 consistency judge with threshold 4 (ours).",
        "Constants ours: steps 3 and mini-batch 5 (the reference code's script uses 10 "
        "iterations over 50 sampled ToolBench APIs); min_calls 1.",
        "Execution goes through the tool simulator: a cached answer for the same call is "
        "served instead of running the implementation again.",
    )

    async def setup(self, run: Any) -> None:
        run.tool_simulator = await simulator_for(run)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("toolgrad")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        specs = [s for s in it.seeds if s.kind == TOOL_KIND]
        pool = [s for s in specs if executable(s) or not p.executable_only]
        if not pool:
            raise kit.Fatal("ToolGrad needs tool_spec seeds (with meta.implementation while "
                            "executable_only is on)")  # fmt: skip
        chain: list[Link] = []
        shown: dict[str, dict[str, Any]] = {}
        attempts: list[dict[str, Any]] = []
        feedback = NO_FEEDBACK
        for step in range(1, p.steps + 1):
            batch = await it.sample(pool, p.batch_size)
            tools = [ToolDef.from_payload(s.payload).tool() for s in batch]
            shown.update((t["function"]["name"], t) for t in tools)
            attempt, link, feedback = await self._step(it, chain, tools, feedback)
            attempts.append({"step": step, **attempt})
            if link is not None:
                chain.append(link)
        metadata: dict[str, Any] = {"attempts": attempts}
        kept = f"{len(chain)} of {p.steps} steps kept"
        it.check(bool(chain), "empty_workflow", kept)
        it.check(len(chain) >= p.min_calls, "too_few_calls", kept)
        steps_text = render(chain)
        asked = await it.gen("query", chain=steps_text, values=value_lines(chain),
                             temperature=p.temperature, max_tokens=p.max_tokens)  # fmt: skip
        query = clean_query(asked.text)
        it.check(bool(query) and not asked.truncated, "empty_query")
        lacking = missing(query, chain)
        it.check(not lacking, "query_misses_argument", "; ".join(lacking))
        made = await it.gen("answer", query=query, chain=steps_text, temperature=0.0,
                            max_tokens=p.max_tokens)  # fmt: skip
        answer = made.text.strip()
        it.check(bool(answer) and not made.truncated, "empty_answer")
        judged = await it.judge(
            "consistency", query=query, chain=steps_text, answer=answer,
            samples=p.judge_samples, temperature=0.7 if p.judge_samples > 1 else 0.0,
        )  # fmt: skip
        it.check(judged.score is not None, "judge_unparsable")
        score = judged.score or 0.0
        it.check(score >= p.judge_threshold, "inconsistent", f"score {score}")
        used = [shown[name] for name in dict.fromkeys(link.name for link in chain)]
        tools_out = used + [t for name, t in shown.items() if t not in used]
        metadata["chain"] = [{"name": x.name, "arguments": x.arguments} for x in chain]
        extra = {"source": "recipe:toolgrad", "metadata": metadata, "rationale": judged.rationale,
                 "tags": [x.name for x in chain]}  # fmt: skip
        return fmt.tool_trajectory(
            trajectory(query, chain, answer), tools_out, step="tool_trajectory", extra=extra,
            prompt_version=asked.version, judge_score=judged.score,
            judgements=[fmt.judgement("consistency", judged)],
        )  # fmt: skip

    async def _step(
        self,
        it: kit.Item[Params],
        chain: list[Link],
        tools: list[dict[str, Any]],
        feedback: str,
    ) -> tuple[dict[str, Any], Link | None, str]:
        """② forward and EXEC, ③ backward, ④ update: the attempt's record, the link it adds
        (None when dropped) and the critique for the next step."""
        p = it.params
        workflow = render(chain)
        forward = await it.gen(
            "forward", workflow=workflow, feedback=feedback, candidates=candidates(tools),
            tools=tools, temperature=p.temperature, max_tokens=p.max_tokens,
        )  # fmt: skip
        call = proposed(forward.tool_calls, forward.text)
        names = [t["function"]["name"] for t in tools]
        error, result_text = "", ""
        if call is None:
            error = "no tool call in the reply"
        elif not (verdict := bfcl.check([call], tools, None)).valid:
            error = "; ".join(verdict.reasons)
        elif any(link.same_call(call) for link in chain):
            error = "this call is already in the workflow"
        else:
            result = await it.tool(call.name, call.arguments)
            error, result_text = result.error, result.text
        tried = (
            f"{call.name}({json.dumps(call.arguments, ensure_ascii=False)})"
            if call is not None
            else forward.text.strip()[:300] or "(an empty reply)"
        )
        outcome = f"Failed: {error}" if error else f"Result: {result_text[:1000]}"
        backward = await it.gen("backward", workflow=workflow, attempt=tried, outcome=outcome,
                                temperature=p.temperature, max_tokens=p.max_tokens)  # fmt: skip
        verdict_text = decision(backward.text)
        keep = not error and verdict_text != "drop"
        record = {
            "tools_shown": names,
            "call": {"name": call.name, "arguments": call.arguments} if call else None,
            "ok": not error,
            "error": error,
            "decision": verdict_text,
            "kept": keep,
            "gradient": critique(backward.text),
        }
        link = Link(call.name, call.arguments or {}, result_text) if keep and call else None
        return record, link, critique(backward.text) or outcome

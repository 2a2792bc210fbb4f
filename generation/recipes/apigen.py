"""APIGen (METHODS.md #45, Liu et al. 2024): verifiable function-calling data.

① SAMPLE API(s) from the executable library (tool_spec seeds with a Python implementation)
and a query style (simple / multiple / parallel / parallel-multiple) → ② GEN N
(query, answers = [{name, arguments}]) as structured JSON → ③ stage 1: the BFCL AST checker
against the docs (JSON, function exists, required args, types) → ④ stage 2: EXEC every call
through the tool simulator (`it.tool`: the implementation in the sandbox); an error or an
empty result rejects → ⑤ stage 3: JUDGE, do the calls and results match the query's
intent (yes/no, 2 samples) → ⑥ FMT a tool trajectory (BFCL-exportable).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from pydantic import Field

from generation.llm import StructuredOutputError
from generation.recipes import kit
from generation.recipes.apigen_stages import (
    PAIRS_SCHEMA,
    STYLE_TEXT,
    STYLES,
    Pair,
    Style,
    calls_json,
    empty,
    examples_of,
    pairs_of,
    style_for,
    tools_wanted,
    yes_no,
)
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt
from generation.tools import bfcl
from generation.tools.definitions import TOOL_KIND, ToolDef
from generation.tools.simulator import ToolResult, simulator_for

RESULT_CHARS = 2000  # per result shown to the semantic checker (it may be truncated)


class Params(RecipeParams):
    query_styles: list[Style] = Field(
        default_factory=lambda: list(STYLES),
        min_length=1,
        description="Query styles, one drawn per item (simple, multiple, parallel, "
        "parallel_multiple).",
    )
    n_queries: int = Field(3, ge=1, le=10, description="Query-answer pairs per generation (N).")
    max_tools: int = Field(
        3, ge=2, le=8, description="Functions shown for the multiple styles (at most)."
    )
    few_shot: int = Field(
        2, ge=0, le=8, description="Seed QA examples shown (from the tools' meta.examples)."
    )
    executable_only: bool = Field(
        True,
        description="Sample only tools with a Python implementation (else the tool "
        "simulator's LLM answers the others).",
    )
    judge_samples: int = Field(
        2, ge=1, le=10, description="Semantic-check samples; a pair passes on a majority of yes."
    )
    final_answer: bool = Field(
        False, description="Add an assistant answer written from the tool results."
    )
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(1024, ge=64, le=8192)


def executable(seed: SeedRow) -> bool:
    return ToolDef.from_payload(seed.payload).implementation is not None


@kit.register
class APIGen(kit.Recipe[Params]):
    meta = kit.Meta(
        "apigen", "APIGen", entry=45, version="1", output="tool_trajectory", section="tools",
        inputs=frozenset({TOOL_KIND}), roles=(kit.POLICY, kit.JUDGE),
        summary="Function-call pairs generated from an executable API library and kept only "
        "after a format check, a sandboxed execution and a semantic check.",
        needs=(
            kit.Need("SBX", "stage 2 runs each call's Python implementation",
                     "tools without one are answered by the tool simulator's LLM "
                     "(executable_only off)"),
            kit.Need("N", "2 semantic-check samples", "single requests in parallel (automatic)"),
        ),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "apis", "1 tool (simple, parallel) or up to 3 (multiple styles) and "
             "a query style."),
        Step("GEN", "generate", "N query-answer pairs as JSON (structured output)."),
        Step("CHECK", "stage1_format", "BFCL AST checker on the docs: JSON, function exists, "
             "required arguments, types."),
        Step("EXEC", "stage2_execution", "Every call through the tool simulator (the "
             "implementation in the sandbox); an error or an empty result rejects."),
        Step("JUDGE", "semantic", "Do the calls and their results fulfil the query? Yes/no, "
             "2 samples, a majority of yes passes."),
        Step("FMT", "tool_trajectory", "User query, assistant tool_calls, tool results, the "
             "tools; stage verdicts in metadata."),
    )  # fmt: skip
    deviations = (
        "Prompt wording is ours; the generator's and the semantic checker's structure follow "
        "the paper (and distilabel's APIGen tasks).",
        "APIs are not grouped by category: same-category seed QA examples come from the shown "
        "tools' own meta.examples, when a seed has any.",
        "Query styles are drawn uniformly from query_styles per item (the paper's mix of "
        "styles is not given as weights); a multiple style with one tool available becomes "
        "its one-function style.",
        "Stage 2 executes through the tool simulator: a cached answer for the same call is "
        "served instead of running the implementation again; timeouts are the sandbox's "
        "limits.",
        "Stage 3 samples the judge twice for a confidence; a tie (one yes, one no) rejects.",
        "No final assistant answer by default (BFCL scores the calls); final_answer adds one.",
    )

    async def setup(self, run: Any) -> None:
        run.tool_simulator = await simulator_for(run)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("apigen")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        specs = [s for s in it.seeds if s.kind == TOOL_KIND]
        pool = [s for s in specs if executable(s) or not p.executable_only]
        if not pool:
            raise kit.Fatal("APIGen needs tool_spec seeds (with meta.implementation while "
                            "executable_only is on)")  # fmt: skip
        asked = it.rng.choice(p.query_styles)
        shown = await it.sample(pool, tools_wanted(asked, len(pool), p.max_tools))
        style = style_for(asked, len(shown))
        tools = [ToolDef.from_payload(s.payload).tool() for s in shown]
        try:
            made = await it.gen(
                "generate", n_queries=p.n_queries, style=STYLE_TEXT[style],
                functions=json.dumps(tools, ensure_ascii=False, indent=1),
                examples=examples_of(shown, p.few_shot) or "(none)",
                json_schema=PAIRS_SCHEMA, temperature=p.temperature, max_tokens=p.max_tokens,
            )  # fmt: skip
        except StructuredOutputError as exc:  # still not the JSON asked for after a repair
            raise kit.Drop("unparsable_pairs", str(exc)) from None
        pairs = pairs_of((made.parsed or [None])[0], made.text)
        if not pairs:
            raise kit.Drop("unparsable_pairs")
        pieces: list[fmt.Piece] = []
        rejected: Counter[str] = Counter()
        details: dict[str, str] = {}
        for index, pair in enumerate(pairs[: p.n_queries]):
            try:
                pieces.append(await self._verified(it, pair, tools, style, index, made.version))
            except kit.Drop as drop:
                rejected[drop.reason] += 1
                details.setdefault(drop.reason, drop.detail)
        reason = rejected.most_common(1)[0][0] if not pieces else ""
        rejected[reason] -= 1  # the item's own reason, when nothing passed
        for why, count in rejected.items():
            if count > 0:
                it.count(why, count)
        if not pieces:
            raise kit.Drop(reason, details[reason])
        return pieces

    async def _verified(
        self,
        it: kit.Item[Params],
        pair: Pair,
        tools: list[dict[str, Any]],
        style: str,
        index: int,
        version: str,
    ) -> fmt.Piece:
        p = it.params
        verdict = bfcl.check(pair.calls, tools, None)
        it.check(verdict.valid, "stage1_format", "; ".join(verdict.reasons))
        results: list[ToolResult] = []
        for call in pair.calls:
            result = await it.tool(call.name, call.arguments)
            it.check(result.ok, "stage2_execution", f"{call.name}: {result.error}")
            it.check(not empty(result.text), "stage2_empty_result", call.name)
            results.append(result)
        shown = [r.text[:RESULT_CHARS] for r in results]
        judged = await it.judge(
            "semantic", query=pair.query, calls=calls_json(pair.calls),
            results=json.dumps(shown, ensure_ascii=False), samples=p.judge_samples,
            maximum=1.0, parse=yes_no, temperature=0.7 if p.judge_samples > 1 else 0.0,
        )  # fmt: skip
        it.check(judged.score is not None, "stage3_unparsable")
        it.check((judged.score or 0.0) > 0.5, "stage3_semantic", judged.rationale[:300])
        calls = bfcl.tool_calls(pair.calls)
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": pair.query},
            {"role": "assistant", "content": None, "tool_calls": calls},
            *(r.message(c["id"]) for r, c in zip(results, calls, strict=True)),
        ]
        if p.final_answer:
            answer = await it.gen(
                "final_answer", query=pair.query, calls=calls_json(pair.calls),
                results=json.dumps(shown, ensure_ascii=False), temperature=0.0, max_tokens=512,
            )  # fmt: skip
            if answer.text.strip() and not answer.truncated:
                messages.append({"role": "assistant", "content": answer.text.strip()})
        metadata = {
            "style": style,
            "stage1_format": verdict.as_dict(),
            "stage2_execution": [
                {"name": r.tool, "source": r.source, "origin": r.origin, "ok": r.ok}
                for r in results
            ],
            "stage3_semantic": {"score": judged.score, "votes": judged.scores},
        }
        extra = {"source": "recipe:apigen", "metadata": metadata, "rationale": judged.rationale}
        return fmt.tool_trajectory(
            messages, tools, suffix=f"q{index}", step="tool_trajectory", extra=extra,
            prompt_version=version, judge_score=judged.score,
            judgements=[fmt.judgement("semantic", judged)],
        )  # fmt: skip

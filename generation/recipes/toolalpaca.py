"""ToolAlpaca (METHODS.md #42, Tang et al. 2023, arXiv 2306.05301): tool-use trajectories
from nothing but short tool briefs, with every tool simulated.

① GEN structured API documentation per brief, checked against the doc schema
(toolalpaca_doc.py) → ② the user agent GENs instructions → ③ the assistant agent acts
ReAct-style (Thought / Action / Action Input) → ④ each call is checked against the doc
(BFCL's AST checker, docs only) and answered by the tool simulator under the function's
response schema → ⑤ until a Final Answer, at most max_steps calls → ⑥ FMT a tool trajectory.

The three agents take turns in a loop of this module, not in generation/sim: the executor's
turns are TOOLSIM steps (`it.tool`), not GENs, and the assistant reads its own steps back
as a ReAct scratchpad with Observations, which SIM's chat views do not write.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import Field

from generation.llm import StructuredOutputError
from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kit import fmt
from generation.recipes.toolalpaca_doc import DOC_SCHEMA, Brief, Doc, parse_doc
from generation.recipes.toolalpaca_react import Done, first_object, numbered, parse_move, scratchpad
from generation.tools import bfcl
from generation.tools.definitions import TOOL_KIND
from generation.tools.simulator import ToolResult, simulator_for

USER = kit.Role("user_agent", "Plays the user who writes the instructions; defaults to policy.",
                False, "policy")  # fmt: skip
TOOLS = kit.Role("tool_simulator", "Plays the documented tools (TOOLSIM) under their response "
                 "schemas; defaults to policy.", False, "policy")  # fmt: skip
STOP = ["\nObservation:", "Observation:"]


class Params(RecipeParams):
    max_functions: int = Field(
        5, ge=1, le=12, description="Functions asked of each generated documentation (at most)."
    )
    instructions_per_tool: int = Field(
        5, ge=1, le=20, description="Instructions the user agent writes per documented tool."
    )
    max_steps: int = Field(
        5, ge=1, le=10, description="Tool calls per trajectory before it must answer (cap)."
    )
    temperature: float = Field(
        0.7, ge=0.0, le=2.0, description="For the documentation and the user agent."
    )
    agent_temperature: float = Field(0.0, ge=0.0, le=2.0, description="For the assistant agent.")
    doc_tokens: int = Field(1536, ge=256, le=8192, description="Budget of the documentation.")
    step_tokens: int = Field(512, ge=64, le=4096, description="Budget of one assistant step.")
    result_chars: int = Field(
        1500, ge=100, le=20000, description="Characters of a tool result shown to the assistant."
    )


@kit.register
class ToolAlpaca(kit.Recipe[Params]):
    meta = kit.Meta(
        "toolalpaca", "ToolAlpaca", entry=42, version="1", output="tool_trajectory",
        section="tools", inputs=frozenset({TOOL_KIND}), roles=(kit.POLICY, USER, TOOLS),
        summary="Tool briefs become generated API docs; a user agent asks, a ReAct assistant "
        "calls the documented functions and a simulator answers them, until a final answer.",
    )  # fmt: skip
    steps = (
        Step("GEN", "document", "API documentation for the brief: functions, JSON-Schema "
             "parameters, a response schema each (structured output)."),
        Step("CHECK", "doc_schema", "The doc validates against the doc schema; required "
             "arguments documented, names distinct, response schemas valid."),
        Step("GEN", "instructions", "The user agent writes requests the functions can serve."),
        Step("GEN", "assistant", "The assistant agent's next step: Thought, Action, Action "
             "Input, or a Final Answer."),
        Step("CHECK", "action", "A well-formed action, of a documented function, with "
             "arguments valid for its schema (BFCL AST checker, docs only)."),
        Step("TOOLSIM", "execute", "The tool simulator answers the call under the function's "
             "response schema; repeat from the assistant step until a Final Answer."),
        Step("FMT", "tool_trajectory", "User request, assistant tool_calls with their "
             "thoughts, tool results, the final answer; the generated doc in metadata."),
    )  # fmt: skip
    deviations = (
        "Prompt wording is ours; the three agents (user, assistant, tool executor) and the "
        "ReAct format follow the paper.",
        "The documentation is a functions list (name, description, JSON-Schema parameters, "
        "response schema) rather than a full OpenAPI document with paths and a natural-"
        "language version; it maps one to one to OpenAI tools.",
        "Docs that fail the doc schema are dropped (the paper curates its docs); a doc's "
        "functions are registered with the tool simulator under names scoped to that doc.",
        "The tool executor is the project's tool simulator: cached answers are reused and a "
        "simulated answer must validate against the function's response schema, else the "
        "trajectory is dropped.",
        "One user turn per trajectory: the user agent writes the instructions but does not "
        "answer the assistant's follow-up questions (the paper's can, for multi-turn cases).",
        "Calls are checked against the doc before they run (BFCL docs-only): an undocumented "
        "function or schema-invalid arguments drops the trajectory instead of becoming an "
        "error observation.",
        "The run cycles through the briefs, one item per brief each pass, so a second pass "
        "writes a fresh documentation for a brief; max_functions, instructions_per_tool and "
        "max_steps are our defaults (the paper gives none).",
        "The agents take turns in the recipe's own loop, not the SIM step: tool turns are "
        "TOOLSIM steps, and the assistant reads a ReAct scratchpad rather than chat turns.",
    )

    async def setup(self, run: Any) -> None:
        self.briefs = sorted((s for s in run.seeds if s.kind == TOOL_KIND), key=lambda s: s.id)
        # The briefs are not tools: each item registers the functions its doc documents.
        # The executor's prompt is the recipe's own (a project may override it).
        run.tool_simulator = await simulator_for(run, tools=(), template=run.prompts["simulate"])

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("toolalpaca")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        if not self.briefs:
            raise kit.Fatal("ToolAlpaca needs tool_spec seeds (a name and a description each).")
        seed = self.briefs[int(it.payload) % len(self.briefs)]  # round-robin over the briefs
        it.use_seeds(seed)
        brief = Brief.of(seed)
        doc = await self._document(it, brief)
        asked = await it.gen(
            "instructions", role=USER.name, tool=brief.name, category=brief.category or "general",
            description=doc.description or brief.description, functions=doc.listing(),
            count=p.instructions_per_tool, temperature=p.temperature, max_tokens=1024,
        )  # fmt: skip
        requests = numbered(asked.text, p.instructions_per_tool)
        it.check(bool(requests), "no_instructions")
        pieces, dropped = [], Counter[str]()
        details: dict[str, str] = {}
        for index, request in enumerate(requests):
            try:
                pieces.append(await self._trajectory(it, doc, request, index))
            except kit.Drop as drop:
                dropped[drop.reason] += 1
                details.setdefault(drop.reason, drop.detail)
        if not pieces:
            reason = dropped.most_common(1)[0][0]
            dropped[reason] -= 1  # the item's own reason
            self._count(it, dropped)
            raise kit.Drop(reason, details[reason])
        self._count(it, dropped)
        return pieces

    @staticmethod
    def _count(it: kit.Item[Params], dropped: Counter[str]) -> None:
        for reason, count in dropped.items():
            if count > 0:
                it.count(reason, count)

    async def _document(self, it: kit.Item[Params], brief: Brief) -> Doc:
        p = it.params
        try:
            made = await it.gen(
                "document", tool=brief.name, description=brief.description,
                category=brief.category or "general", max_functions=p.max_functions,
                json_schema=DOC_SCHEMA, temperature=p.temperature, max_tokens=p.doc_tokens,
            )  # fmt: skip
        except StructuredOutputError as exc:  # still not a doc after llm.py's repair
            raise kit.Drop("invalid_doc", str(exc)[:300]) from None
        value = made.parsed[0] if made.parsed else first_object(made.text)
        doc = parse_doc(brief, value)
        if isinstance(doc, str):
            raise kit.Drop("invalid_doc", doc)
        simulator = getattr(it.host, "tool_simulator")  # noqa: B009 (set in setup)
        try:
            for tool in doc.tool_defs():
                simulator.register(tool)
        except ValueError as exc:  # a response schema the simulator cannot use
            raise kit.Drop("invalid_doc", str(exc)[:300]) from None
        return doc

    async def _trajectory(
        self, it: kit.Item[Params], doc: Doc, request: str, index: int
    ) -> fmt.Piece:
        p = it.params
        tools = doc.tools()
        messages: list[dict[str, Any]] = [{"role": "user", "content": request}]
        done: list[Done] = []
        results: list[ToolResult] = []
        for step in range(p.max_steps + 1):
            made = await it.gen(
                "assistant", tool=doc.brief.name, functions=doc.listing(), instruction=request,
                scratchpad=scratchpad(done, p.result_chars), temperature=p.agent_temperature,
                max_tokens=p.step_tokens, stop=STOP,
            )  # fmt: skip
            move = parse_move(made.text)
            it.check(not move.problem, "malformed_action", move.problem)
            if move.final:
                messages.append({"role": "assistant", "content": move.final})
                return self._piece(doc, messages, tools, results, move.thought, index, made)
            it.check(step < p.max_steps, "no_final_answer", f"{p.max_steps} calls, no answer")
            it.check(doc.function(move.action) is not None, "undocumented_function", move.action)
            call = bfcl.Call(move.action, move.arguments)
            verdict = bfcl.check([call], tools, None)
            it.check(verdict.valid, "invalid_arguments", "; ".join(verdict.reasons))
            result = await it.tool(doc.simulated_name(move.action), move.arguments)
            it.check(result.ok, "tool_error", f"{move.action}: {result.error}")
            (tool_call,) = bfcl.tool_calls([call])
            tool_call["id"] = call_id = f"call_{step}"
            messages.append(
                {"role": "assistant", "content": move.thought or None, "tool_calls": [tool_call]}
            )
            messages.append(result.message(call_id))
            done.append(Done(move, result.text))
            results.append(result)
        raise kit.Drop("no_final_answer")  # not reached: the last step answers or drops

    @staticmethod
    def _piece(
        doc: Doc,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        results: list[ToolResult],
        thought: str,
        index: int,
        made: Any,
    ) -> fmt.Piece:
        metadata = {
            "tool": doc.brief.name,
            "category": doc.brief.category,
            "documentation": doc.to_json(),
            "calls": [{"name": r.tool, "source": r.source, "origin": r.origin} for r in results],
        }
        tags = [f"tool:{doc.brief.name}", *([doc.brief.category] if doc.brief.category else [])]
        extra: dict[str, Any] = {"source": "recipe:toolalpaca", "metadata": metadata, "tags": tags}
        if thought:
            extra["rationale"] = thought
        return fmt.tool_trajectory(
            messages, tools, suffix=f"i{index}", step="tool_trajectory", extra=extra,
            prompt_version=made.version,
        )  # fmt: skip

"""Magnet (METHODS.md #50, Yin et al., ACL 2025, arXiv 2503.07826): multi-turn tool-use
data from function-signature paths, with contrastive negatives.

① the local dependency graph of the function pool (an output of f can feed a parameter of
g) → ② a random walk gives a path of functions → ③ node operations shape it into turns:
Insert (a nested call the user does not ask for), Merge (two calls in one turn), Split (a
missing parameter → a clarification turn; a missing function → an irrelevance turn) → ④
back-and-forth translation, turn by turn: GEN each concrete call, EXEC it (tool simulator),
GEN the user message that asks for it → ⑤ the teacher plays the assistant with the
reference calls as hints (positive), and once more at one turn with a contrastive wrong
hint (negative) → ⑥ FMT the positive as a tool trajectory and the pair as a preference.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from generation.recipes import kit
from generation.recipes.apigen import executable
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kit import fmt
from generation.recipes.magnet_graph import (
    Turn,
    edges,
    outputs_of_result,
    outputs_of_schema,
    plan,
    probe_arguments,
    walk,
    wrong_hint,
)
from generation.recipes.magnet_teacher import Exchange, hint, same_calls, teacher_turn
from generation.recipes.toolgrad_workflow import candidates, clean_query, mentions, proposed
from generation.tools import bfcl
from generation.tools.definitions import TOOL_KIND, ToolDef
from generation.tools.simulator import simulator_for

Op = Literal["insert", "merge", "split"]
DEFAULT_OPS: tuple[Op, ...] = ("insert", "merge", "split")
NOTE = {
    "plain": "Ask for this step in your own words.",
    "insert": "Ask only for the final goal; do not mention the first call ({hidden}) or its "
    "result, though give every value it needs.",
    "merge": "Ask for both steps in one message.",
    "split_param": "Leave out the value of `{missing}` ({value}): do not say it.",
}


class Params(RecipeParams):
    path_length: int = Field(3, ge=2, le=8, description="Functions on the random-walk path.")
    ops: list[Op] = Field(
        default_factory=lambda: list(DEFAULT_OPS),
        description="Node operations drawn from (insert, merge, split).",
    )
    op_rate: float = Field(0.5, ge=0.0, le=1.0, description="Chance that a node gets an "
                           "operation.")  # fmt: skip
    executable_only: bool = Field(
        True,
        description="Only tools with a Python implementation (else the tool simulator's LLM "
        "answers the others).",
    )
    repairs: int = Field(1, ge=0, le=3, description="Retries of a reference call that fails.")
    max_steps: int = Field(4, ge=2, le=10, description="Teacher moves per turn at most.")
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(512, ge=64, le=4096)


@kit.register
class Magnet(kit.Recipe[Params]):
    meta = kit.Meta(
        "magnet", "Magnet", entry=50, version="1", output="tool_trajectory+preference",
        section="agent_dialogue", inputs=frozenset({TOOL_KIND}), yield_per_item=2.0,
        summary="Multi-turn tool conversations grown from random walks on a function "
        "dependency graph, shaped by insert/merge/split; a positive trajectory from reference "
        "hints and a contrastive negative at one turn.",
        needs=(
            kit.Need("RT", "every reference and teacher call is executed",
                     "the tool simulator (cache, implementation, LLM)"),
            kit.Need("SBX", "tools with a Python implementation run in the sandbox",
                     "the tool simulator's LLM (executable_only off)"),
        ),
    )  # fmt: skip
    steps = (
        Step("EXEC", "graph", "Each tool's outputs (response schema, else one probe call); an "
             "edge f → g when an output of f fits a parameter of g by type (names first)."),
        Step("SAMPLE", "walk", "A random walk of 3 functions over the edges (jumps at dead "
             "ends)."),
        Step("SAMPLE", "operations", "Per node, with chance 0.5: Insert (nested call), Merge "
             "(two calls, one turn) or Split (missing parameter or function)."),
        Step("GEN", "call", "Each reference call, forced to its function, with the earlier "
             "results shown; BFCL docs check."),
        Step("TOOLSIM", "execute", "The call through the tool simulator; a failure is "
             "repaired once, then drops."),
        Step("GEN", "user_turn", "The user message asking for the turn's calls (back-"
             "translation); CHECK it states the values the calls need, and for Split not the "
             "withheld one; then the user's answer that gives it."),
        Step("GEN", "positive", "The teacher per turn with the reference calls as a hint; "
             "CHECK its calls equal them (hint consistency)."),
        Step("GEN", "negative", "At one turn, the teacher with a contrastive wrong hint (other "
             "function or value); it must differ from the positive."),
        Step("FMT", "outputs", "The positive as a tool trajectory; positive vs negative at "
             "that turn as a conversational preference pair."),
    )  # fmt: skip
    deviations = (
        "Prompt wording is ours; the graph, the walk, the three node operations, the "
        "back-and-forth translation and the hinted positive and negative follow the paper.",
        "Graph edges come from types and names (a response schema, else the fields of one "
        "probe call's result), not from an LLM's judgement.",
        "A Split that removes a function becomes an irrelevance turn the user asks before the "
        "step; a Split that removes a parameter becomes a clarification exchange.",
        "One negative per conversation, at one turn; the pair is that turn in context "
        "(prefix, positive turn, negative turn), for multi-turn DPO. mDPO training is "
        "outside Seedbed.",
        "Constants ours: path length 3, operation chance 0.5, one repair (the paper's are "
        "not given); one teacher model (the paper's is Gemini-1.5-pro).",
    )

    async def setup(self, run: Any) -> None:
        run.tool_simulator = await simulator_for(run)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("magnet")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        pool = [
            s for s in it.seeds if s.kind == TOOL_KIND and (executable(s) or not p.executable_only)
        ]
        if len(pool) < 2:
            raise kit.Fatal(
                "Magnet needs two or more tool_spec seeds (with meta.implementation "
                "while executable_only is on)"
            )
        it.use_seeds(*pool)
        tools = {
            ToolDef.from_payload(s.payload).name: ToolDef.from_payload(s.payload).tool()
            for s in pool
        }
        outputs: dict[str, dict[str, str]] = {}
        for seed in pool:
            tool = ToolDef.from_payload(seed.payload)
            known = outputs_of_schema(tool.response_schema)
            if known is None:
                examples = (seed.payload.get("meta") or {}).get("examples") or []
                probe = await it.tool(tool.name, probe_arguments(tools[tool.name], examples))
                known = outputs_of_result(probe.text) if probe.ok else {}
            outputs[tool.name] = known
        graph = edges(list(tools.values()), outputs)
        path = walk(list(tools), graph, p.path_length, it.rng)
        turns = plan(path, tools, graph, p.ops, p.op_rate, it.rng)
        exchanges: list[Exchange] = []
        for turn in turns:
            exchanges += await self._translate(it, turn, tools, graph, exchanges)
        tool_list = list(tools.values())
        positive: list[dict[str, Any]] = []
        starts: list[int] = []
        for n, ex in enumerate(exchanges):
            positive.append({"role": "user", "content": ex.user})
            starts.append(len(positive))
            turn_msgs, made, replied = await teacher_turn(
                it, positive, tool_list, hint(ex.kind, ex.calls, ex.missing), f"call_{n}"
            )
            it.check(replied, "teacher_no_reply", f"turn {n + 1}")
            it.check(
                same_calls(made, ex.calls),
                "hint_inconsistent",
                f"turn {n + 1}: {json.dumps([(c['name'], c['arguments']) for c in made])[:300]}",
            )
            positive += turn_msgs
        metadata = {
            "path": path,
            "graph": [[e.source, e.target, e.output, e.param] for e in graph],
            "turns": [{"op": ex.op, "kind": ex.kind, "calls": ex.calls} for ex in exchanges],
        }
        extra = {
            "source": "recipe:magnet",
            "trajectory_id": it.key,
            "metadata": metadata,
            "tags": sorted({ex.op for ex in exchanges} | set(path)),
        }
        sft = fmt.tool_trajectory(
            positive, tool_list, suffix="sft", step="positive", extra=dict(extra)
        )
        calling = [n for n, ex in enumerate(exchanges) if ex.kind == "call"]
        it.check(bool(calling), "no_calls")
        at = it.rng.choice(calling)
        wrong, why = wrong_hint(exchanges[at].calls, tools, it.rng)
        prefix = positive[: starts[at]]
        end = starts[at + 1] - 1 if at + 1 < len(starts) else len(positive)
        rejected, made, _ = await teacher_turn(it, prefix, tool_list, hint("call", wrong), "neg")
        if same_calls(made, exchanges[at].calls) or not rejected:
            it.count("negative_same_as_positive")
            return sft
        pair_extra = {
            **extra,
            "metadata": {
                **metadata,
                "hinted_turn": at + 1,
                "wrong_hint": why,
                "wrong_calls": wrong,
            },
        }
        pair = kit.Piece(
            "preference",
            prefix,
            chosen=positive[starts[at] : end],
            rejected=rejected,
            tools=tool_list,
            suffix="pair",
            step="negative",
            extra=pair_extra,
        )
        return [sft, pair]

    async def _translate(
        self,
        it: kit.Item[Params],
        turn: Turn,
        tools: dict[str, dict[str, Any]],
        graph: list[Any],
        before: list[Exchange],
    ) -> list[Exchange]:
        """④ One planned turn as exchanges: its reference calls (generated and executed
        one by one) and the user message(s) that ask for them."""
        p = it.params
        talk = _conversation(before)
        if turn.op == "split_function":
            asked = await it.gen(
                "user_irrelevant",
                functions=candidates(list(tools.values())),
                conversation=talk,
                temperature=p.temperature,
                max_tokens=200,
            )
            text = clean_query(asked.text)
            it.check(bool(text), "empty_user_turn")
            return [Exchange(text, "refuse", op=turn.op)]
        calls: list[dict[str, Any]] = []
        for name in turn.functions:
            calls.append(await self._call(it, name, tools, graph, talk, calls))
        earlier = " ".join(c["result"] for ex in before for c in ex.calls)
        needed = [
            (c["name"], k, v)
            for c in calls
            for k, v in c["arguments"].items()
            if isinstance(v, str | int | float) and not mentions(earlier, v)
        ]
        withheld = [
            (n, k, v) for n, k, v in needed if turn.op == "split_param" and k == turn.missing
        ]
        value = withheld[0][2] if withheld else ""
        note = NOTE[turn.op].format(
            hidden=turn.hidden, missing=turn.missing, value=json.dumps(value)
        )
        asked = await it.gen(
            "user_turn",
            conversation=talk,
            calls=_calls_text(calls),
            note=note,
            temperature=p.temperature,
            max_tokens=200,
        )
        text = clean_query(asked.text)
        it.check(bool(text), "empty_user_turn")
        inner = {
            k
            for c in calls[1:]
            if turn.op == "insert"
            for k, v in c["arguments"].items()
            if mentions(calls[0]["result"], v)
        }
        lacking = [
            f"{n}.{k}"
            for n, k, v in needed
            if (n, k, v) not in withheld and k not in inner and not mentions(text, v)
        ]
        it.check(not lacking, "user_turn_misses_value", ", ".join(lacking))
        if turn.op != "split_param" or not withheld:
            return [Exchange(text, "call", calls, op=turn.op)]
        it.check(not mentions(text, value), "split_value_given", f"{turn.missing}={value!r}")
        answer = await it.gen(
            "user_answer",
            conversation=_conversation(before) + f"\nUser: {text}",
            param=turn.missing,
            value=json.dumps(value),
            temperature=p.temperature,
            max_tokens=120,
        )
        given = clean_query(answer.text)
        it.check(mentions(given, value), "answer_misses_value", f"{turn.missing}={value!r}")
        return [
            Exchange(text, "ask", missing=turn.missing, op=turn.op),
            Exchange(given, "call", calls, op=turn.op),
        ]

    async def _call(
        self,
        it: kit.Item[Params],
        name: str,
        tools: dict[str, dict[str, Any]],
        graph: list[Any],
        talk: str,
        done: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """GEN a concrete call to `name` (forced), CHECK it on the docs, EXEC it; a failure
        is shown to the next try (`repairs`), then drops the item."""
        p = it.params
        feeds = [e for e in graph if e.target == name and any(c["name"] == e.source for c in done)]
        link = (
            "; ".join(
                f"its `{e.param}` may be the `{e.output}` of {e.source}'s result" for e in feeds
            )
            or "(none)"
        )
        problem = "(none)"
        for _ in range(p.repairs + 1):
            made = await it.gen(
                "call",
                function=candidates([tools[name]]),
                conversation=talk,
                earlier=_calls_text(done) or "(none)",
                link=link,
                problem=problem,
                tools=[tools[name]],
                tool_choice={"type": "function", "function": {"name": name}},
                temperature=p.temperature,
                max_tokens=p.max_tokens,
            )
            call = proposed(made.tool_calls, made.text)
            if call is None or call.name != name or call.arguments is None:
                problem = "no call to this function with a JSON object of arguments"
                continue
            verdict = bfcl.check([call], [tools[name]], None)
            if not verdict.valid:
                problem = "; ".join(verdict.reasons)
                continue
            result = await it.tool(name, call.arguments)
            if result.ok:
                return {"name": name, "arguments": call.arguments, "result": result.text}
            problem = f"the call failed: {result.error}"
        raise kit.Drop("call_failed", f"{name}: {problem}")


def _calls_text(calls: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"- {c['name']}({json.dumps(c['arguments'], ensure_ascii=False)}) -> {c['result'][:500]}"
        for c in calls
    )


def _conversation(exchanges: list[Exchange]) -> str:
    lines = []
    for ex in exchanges:
        lines.append(f"User: {ex.user}")
        lines += [f"(call) {c['name']} -> {c['result'][:300]}" for c in ex.calls]
    return "\n".join(lines) or "(the conversation starts here)"

"""Toolformer (METHODS.md #43): plain text annotated with the tool calls that help the model
predict what follows, found by the model's own prompt logprobs.

① PLP: with a tool's demos as the prompt, P("[") at every word boundary of the text; the top
k positions above τs are kept → ② GEN m calls at each (completions, after `… [Tool(`) →
③ EXEC them locally (calculator, calendar, QA by the model, search over the run's documents)
→ ④ PLP: the weighted loss of the next words after the text's prefix, alone (L_ε), after the
call without its result (L_∅) and after the call with it (L⁺) → ⑤ keep a call when
min(L_ε, L_∅) − L⁺ ≥ τf, the best one per position → ⑥ FMT the text with `[Tool(args) → r]`.
One item per (text, tool). It needs an endpoint that scores a given text: without one the
run fails at its first item, saying which servers can.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from typing import Any, Literal

from pydantic import Field

from generation.llm import CapabilityError, PermanentLLMError
from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt, retrieval
from generation.recipes.toolformer_text import (
    Position,
    annotate,
    continuations,
    positions,
    weighted_loss,
    weights,
    window,
)
from generation.recipes.toolformer_tools import (
    ARROW,
    NAMES,
    Call,
    answer_line,
    calculate,
    calendar,
    clean,
    numbers,
    read_call,
    seed_date,
    snippet,
)

Tool = Literal["calculator", "calendar", "qa", "search"]
REFUSAL = (
    "Toolformer cannot run on this endpoint: it places and filters calls by the logprobs "
    "of a given text (PLP), and this endpoint cannot score a given text. Use a server "
    "whose /v1/completions returns prompt logprobs: vLLM (prompt_logprobs, or echo with "
    "logprobs), or another OpenAI-compatible completions server that honours echo with "
    "logprobs. llama.cpp's server (the local model included: it refuses echo, and n_probs "
    "covers generated tokens only) and chat-only APIs cannot."
)


class Params(RecipeParams):
    tools: list[Tool] = Field(
        ["calculator", "calendar", "qa", "search"], min_length=1,
        description="Tools to annotate with; one item per text and tool (search needs "
        "document seeds: it searches the run's documents).",
    )  # fmt: skip
    top_k: int = Field(5, ge=1, le=20, description="Call positions kept per text (k).")
    calls_per_position: int = Field(5, ge=1, le=16, description="Calls sampled per position (m).")
    tau_s: float = Field(
        0.05, ge=0.0, le=1.0, description='A position needs P("[") above this (τs).'
    )
    tau_f: float = Field(
        1.0, ge=-10.0, le=10.0, description="A call is kept when the loss of the next words "
        "drops by at least this with its result (τf, nats).",
    )  # fmt: skip
    weight_decay: float = Field(
        0.2, ge=0.1, le=1.0, description="Loss weights w_t ∝ max(0, 1 − decay·t) over the "
        "next words (0.2: five words).",
    )  # fmt: skip
    max_words: int = Field(40, ge=3, le=300, description="Words of each text considered.")
    calculator_min_numbers: int = Field(
        1, ge=0, le=10, description="Calculator only for texts with at least this many numbers."
    )
    today: str = Field(
        "", description="The calendar's date (ISO) for texts without meta.date; empty: the "
        "day the item runs.",
    )  # fmt: skip
    temperature: float = Field(1.0, ge=0.0, le=2.0, description="Sampling the calls.")
    max_call_tokens: int = Field(48, ge=8, le=256)


@kit.register
class Toolformer(kit.Recipe[Params]):
    meta = kit.Meta(
        "toolformer", "Toolformer", entry=43, version="1", output="sft", section="tools",
        inputs=frozenset({"text", "document"}), roles=(kit.POLICY,),
        summary="Texts annotated with inline tool calls [Tool(args) → result] (calculator, "
        "calendar, QA, search over the run's documents), kept only where the result lowers "
        "the model's loss on the next words by τf; needs prompt logprobs (vLLM).",
        needs=(
            kit.Need("PLP", 'P("[") at each word boundary, and the loss of the next words '
                     "with and without a call", ""),
            kit.Need("RT", "the tools' answers", "all four run locally, none on the web"),
            kit.Need("RET", "the search tool", "BM25 over the run's document seeds",
                     when=lambda p: "search" in p.tools),
        ),
    )  # fmt: skip
    steps = (
        Step("CHECK", "heuristic", "Per tool: the calculator only for texts with numbers, "
             "search only where the run has documents."),
        Step("JUDGE", "positions", 'PLP: P(" [") after each word, with the tool\'s demos as '
             "the prompt; the top k = 5 positions above τs = 0.05."),
        Step("GEN", "annotate", "m = 5 calls per position, sampled after `… [Tool(` "
             "(completions), read up to the closing parenthesis."),
        Step("EXEC", "tools", "Calculator (+ − × ÷, two decimals), calendar (the text's "
             "date), QA (the model answers), search (BM25 over the run's documents)."),
        Step("JUDGE", "loss", "PLP: the loss of the next words, weighted by max(0, 1 − 0.2·t), "
             "after the text alone, the call without its result and the call with it."),
        Step("CHECK", "utility", "min(L_ε, L_∅) − L⁺ ≥ τf = 1.0; the best call per position."),
        Step("FMT", "sft", "user = the text before the first call, assistant = the rest with "
             "[Tool(args) → result] inline; the whole annotated text in extra."),
    )  # fmt: skip
    deviations = (
        "Positions are word boundaries and the loss runs over the next words, not tokens: "
        "the kit's PLP sums a continuation's logprobs, so each word's logprob is the "
        "difference of two sums (one scoring call per word of the window).",
        "The tools are local stand-ins: the paper's Atlas QA model is the policy answering "
        "in a few words, its Wikipedia BM25 search is BM25 over the run's document seeds "
        "(the item's own document excluded), the machine-translation tool is left out, and "
        "the calendar answers with the text's meta.date, else the `today` param, else the "
        "day the item runs (the paper takes dates from the documents' URLs).",
        "The demo prompts and their wording are ours (three demos per tool). Calls are "
        "sampled after the tool's name and an open parenthesis, so each item's calls are "
        "of its tool; the calculator does + − × ÷ with an AST-restricted evaluator.",
        "One item per (text, tool), and each kept call is the best of its position; the "
        "paper merges the tools' annotations of a text into one training example, here "
        "each tool's annotated text is its own sample. Texts are cut to max_words words.",
        "The output is an SFT pair, the text before the first call → the rest with the "
        "calls inline; the paper fine-tunes on the whole annotated text (kept in "
        "extra.metadata.annotated). The fine-tuning itself happens outside Seedbed.",
        "Calculator texts need calculator_min_numbers numbers (default 1); the paper's "
        "per-tool heuristics are stricter. τs, τf, k and m are the paper's defaults for all "
        "tools (the paper tunes τf per tool).",
    )

    async def setup(self, run: Any) -> None:
        self.index = retrieval.Index.from_seeds(run.seeds)

    def source(self, run: Any) -> Any:
        for seed in run.seeds:
            for tool in run.params.tools:
                yield f"tf:{seed.id}:{tool}", (seed, tool)

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        seed, tool = it.payload
        it.use_seeds(seed)
        text = window(str(seed.payload.get("text") or seed.text), p.max_words)
        self._heuristic(it, tool, text)
        spots = positions(text)
        it.check(bool(spots), "too_short", f"{len(text.split())} words")
        demos = it.host.prompts[f"annotate_{tool}"]
        probs = await scores(it, [(demos.render(text=text, output=s.prefix(text)), " [")
                                  for s in spots])  # fmt: skip
        p_open = [math.exp(v) if v is not None else 0.0 for v in probs]
        ranked = sorted(range(len(spots)), key=lambda i: (-p_open[i], i))
        chosen = [spots[i] for i in ranked[: p.top_k] if p_open[i] > p.tau_s]
        it.check(bool(chosen), "no_position_above_tau_s", f"max P([) {max(p_open):.3f}")
        sampled = await asyncio.gather(*(self._calls(it, tool, text, s) for s in chosen))
        tried = [(s, c) for s, calls in zip(chosen, sampled, strict=True) for c in calls]
        it.check(bool(tried), "no_call", "no sampled call parsed")
        results = [await self._execute(it, c, seed) for _, c in tried]
        done = [(s, c, r) for (s, c), r in zip(tried, results, strict=True) if r]
        if len(done) < len(tried):
            it.count("no_result", len(tried) - len(done))
        it.check(bool(done), "no_result", "no call gave a result")
        judged = await asyncio.gather(*(self._utility(it, text, s, c, r) for s, c, r in done))
        best: dict[int, dict[str, Any]] = {}
        for row in judged:
            if (
                row["kept"]
                and row["reduction"] > best.get(row["at"], {"reduction": -1e9})["reduction"]
            ):
                best[row["at"]] = row
        if useless := sum(not row["kept"] for row in judged):
            it.count("useless_call", useless)
        it.check(bool(best), "no_useful_call", f"best reduction "
                 f"{max(r['reduction'] for r in judged):.2f} < τf {p.tau_f}")  # fmt: skip
        annotated = annotate(text, {at: row["inline"] for at, row in best.items()})
        first = min(best)
        metadata = {
            "tool": tool,
            "text": text,
            "annotated": annotated,
            "positions": [
                {"words": s.index, "p_open": round(p_open[i], 4), "kept": s in chosen}
                for i, s in enumerate(spots)
            ],
            "calls": judged,
            "tau_s": p.tau_s,
            "tau_f": p.tau_f,
        }
        extra = {"metadata": metadata, "tags": [f"tool:{tool}", f"calls:{len(best)}"]}
        return fmt.sft(text[:first], annotated[first:].lstrip(), step="utility", extra=extra)

    def _heuristic(self, it: kit.Item[Params], tool: str, text: str) -> None:
        if tool == "calculator":
            have, need = numbers(text), it.params.calculator_min_numbers
            it.check(have >= need, "calculator_needs_numbers", f"{have} < {need}")
        if tool == "search":
            it.check(len(self.index) > 0, "search_needs_documents", "no document seeds")

    async def _calls(self, it: kit.Item[Params], tool: str, text: str, at: Position) -> list[Call]:
        """m calls sampled at a position; the ones that parse, each once."""
        p = it.params
        made = await it.gen(
            f"annotate_{tool}", n=p.calls_per_position, api="completions", text=text,
            output=f"{at.prefix(text)} [{NAMES[tool]}(", temperature=p.temperature,
            max_tokens=p.max_call_tokens, stop=["]", "\n", ARROW],
        )  # fmt: skip
        calls: list[Call] = []
        for generated in made.texts:
            call = read_call(tool, generated)
            if call is None:
                it.count("unparsable_call")
            elif call not in calls:
                calls.append(call)
        return calls

    async def _execute(self, it: kit.Item[Params], call: Call, seed: SeedRow) -> str:
        """The tool's answer to a call, one line; empty when it has none."""
        if call.tool == "calculator":
            return calculate(call.args) or ""
        if call.tool == "calendar":
            day = seed_date(seed.payload, it.params.today)
            if day is None:
                day = dt.date.fromisoformat(await it.compute("today", _today))
            return calendar(day)
        if call.tool == "qa":
            got = await it.gen("qa_answer", question=call.args, temperature=0.0, max_tokens=32)
            return clean(answer_line(got.text))
        hits = [h for h in self.index.search(call.args, 3) if h.seed_id != seed.id]
        return clean(snippet(hits[0].text)) if hits else ""

    async def _utility(
        self, it: kit.Item[Params], text: str, at: Position, call: Call, result: str
    ) -> dict[str, Any]:
        """The three losses of the next words (text alone, call alone, call and result)."""
        p = it.params
        nexts = continuations(text, at, len(weights(p.weight_decay)))
        prefix = at.prefix(text)
        contexts = [prefix, f"{call.inline('')} {prefix}", f"{call.inline(result)} {prefix}"]
        sums = await scores(it, [(c, n) for c in contexts for n in nexts])
        w = len(nexts)
        losses = [
            None if None in part else weighted_loss([v or 0.0 for v in part], p.weight_decay)
            for part in (sums[k * w : (k + 1) * w] for k in range(3))
        ]
        plain, empty, plus = losses
        minus = None if plain is None or empty is None else min(plain, empty)
        reduction = (minus - plus) if minus is not None and plus is not None else -1e9
        return {
            "at": at.at,
            "words": at.index,
            "call": call.text,
            "result": result,
            "inline": call.inline(result),
            "loss_plain": _round(plain),
            "loss_call_only": _round(empty),
            "loss_with_result": _round(plus),
            "reduction": round(reduction, 4),
            "kept": reduction >= p.tau_f,
        }


async def scores(it: kit.Item[Any], pairs: list[tuple[str, str]]) -> list[float | None]:
    """The summed logprob of each continuation after its context (None: one the endpoint
    could not align); an endpoint that cannot score a given text ends the run."""
    if not pairs:
        return []
    first = await asyncio.gather(_score(it, *pairs[0]), return_exceptions=True)
    rest = await asyncio.gather(*(_score(it, *pair) for pair in pairs[1:]), return_exceptions=True)
    out: list[float | None] = []
    for got in [*first, *rest]:
        if isinstance(got, CapabilityError):
            raise kit.Fatal(f"{REFUSAL} ({got})") from got
        if isinstance(got, PermanentLLMError) and "cannot score this text" in str(got):
            it.count("unscorable_text")
            out.append(None)
        elif isinstance(got, BaseException):
            raise got
        else:
            out.append(got)
    return out


async def _score(it: kit.Item[Any], context: str, continuation: str) -> float:
    return (await it.score_text(context, continuation)).sum_logprob


async def _today() -> str:
    return dt.date.today().isoformat()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)

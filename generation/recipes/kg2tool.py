"""KG2Tool (METHODS.md #48, Wang et al. 2025, arXiv 2506.21071): tool-use data from a
knowledge graph.

① The run's kg_triple seeds are the graph; every relation becomes an API per head type
(`get_<relation>_of_<headtype>`), with its inverse, plus intersection / union / negation
APIs → ② SAMPLE one of 14 FOL patterns and ground it by subgraph matching (backwards from
a target entity) → ④ derive the solution path, the ordered API calls, and EXEC it on the
graph (plain Python; the last result must equal the sampled answer set) → ③ GEN the
natural-language question; it must name the anchor entities and not give the answer → ⑤
FMT a tool trajectory: question, calls (independent ones in one turn), results, answer.
"""

from __future__ import annotations

import random
import re
from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kg2tool_graph import KIND, Graph
from generation.recipes.kg2tool_patterns import (
    PATTERNS,
    Grounder,
    Instance,
    Pattern,
    describe,
    solve,
    turns,
)
from generation.recipes.kit import fmt
from generation.recipes.kit.pools import EXACT

_LABEL = re.compile(r"^\s*(?:question|query|user)\s*[:：]\s*", re.IGNORECASE)
_QUOTES = "\"'“”‘’`"


class Params(RecipeParams):
    patterns: list[Pattern] = Field(
        default_factory=lambda: list(PATTERNS),
        min_length=1,
        description="FOL patterns, one drawn per item: projections 1p 2p 3p, intersections "
        "2i 3i, mixed ip pi, unions 2u up, negations 2in 3in inp pin pni.",
    )
    max_answers: int = Field(
        10, ge=1, le=200, description="A grounded query with more answers than this is redrawn."
    )
    match_tries: int = Field(
        30, ge=1, le=500, description="Target entities tried per item before it is dropped."
    )
    max_tools: int = Field(
        16,
        ge=1,
        le=128,
        description="Tools listed per sample: the solution's APIs, then other APIs of the "
        "graph (distractors) up to this many.",
    )
    final_answer: bool = Field(
        True, description="End the trajectory with an assistant turn that lists the answers."
    )
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(200, ge=32, le=2048)


def first_question(text: str) -> str:
    """The question from a model reply: its first non-empty line, without a label or quotes."""
    for line in text.splitlines():
        line = _LABEL.sub("", line.strip().strip(_QUOTES)).strip().strip(_QUOTES).strip()
        if line:
            return line
    return ""


def squash(text: str) -> str:
    return " ".join(text.lower().split())


def mentions(text: str, name: str) -> bool:
    """Whether `name` occurs in text as a whole word or phrase (case and spacing aside)."""
    return re.search(rf"(?<!\w){re.escape(squash(name))}(?!\w)", squash(text)) is not None


def answer_turn(answers: list[str]) -> dict[str, Any]:
    head = "The answer is" if len(answers) == 1 else f"The {len(answers)} answers are"
    return {"role": "assistant", "content": f"{head}: {', '.join(answers)}."}


@kit.register
class KG2Tool(kit.Recipe[Params]):
    meta = kit.Meta(
        "kg2tool", "KG2Tool", entry=48, version="1", output="tool_trajectory", section="tools",
        inputs=frozenset({KIND}), roles=(kit.POLICY,),
        summary="Tool-call trajectories from a knowledge graph: relations become APIs, FOL "
        "query patterns are grounded on the graph, their solution paths executed on it, and "
        "the model words each query as a user's question.",
        needs=(kit.Need("KG", "the APIs run on the graph the seed set's triples form",
                        "the triples are loaded into memory per run (no graph store)"),),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "apis", "The graph from the run's triples: one API per relation and "
             "head type, its inverse, and intersection / union / negation APIs."),
        Step("SAMPLE", "instantiate", "One FOL pattern (1p … pni), grounded by subgraph "
             "matching backwards from a target entity; answers non-empty and bounded."),
        Step("EXEC", "solution_path", "The ordered API calls of the pattern, executed on the "
             "graph; the last result must equal the sampled answer set."),
        Step("DEDUP-L", "novelty", "An exact repeat of an earlier query (pattern, anchors, "
             "relations) drops."),
        Step("GEN", "query", "The query worded as a user's question."),
        Step("CHECK", "anchors", "The question names every anchor entity and no answer."),
        Step("FMT", "tool_trajectory", "Question, assistant tool_calls (independent calls "
             "in one turn), tool results, the answers; the tools with distractors."),
    )  # fmt: skip
    deviations = (
        "The graph is the seed set's kg_triple seeds (a small hand-written graph in the "
        "demo), not FB15k; an entity's type is its head_type / tail_type, or 'entity'.",
        "Projection APIs take a list of entities and return the union of what each reaches "
        "(one call per hop, not one per entity); inverse APIs are named "
        "get_inverse_<relation>_of_<tailtype>; get_negation_of is a set difference "
        "(entities less excluded), not a complement over the whole graph.",
        "Grounding follows BetaE-style backward sampling from a target entity; a negated "
        "branch must remove at least one entity of the positive set; a query with more than "
        "max_answers answers, or one whose answers hold an anchor, is redrawn (our bounds).",
        "The solution path is executed before the question is written, so an execution "
        "mismatch costs no model call; independent calls share one assistant turn.",
        "The final answer turn lists the answer set (templated, no model call); the paper's "
        "per-step thoughts are not written. Prompt wording is ours.",
        "Added by Seedbed: exact-repeat queries drop, and a question that names an answer "
        "entity drops (query_leaks_answer).",
    )

    async def setup(self, run: Any) -> None:
        self.rows = {s.id: s for s in run.seeds if s.kind == KIND}
        self.graph = Graph.from_seeds(self.rows.values())
        self.grounder = Grounder(self.graph)
        run.rouge_pool("queries", EXACT, [])

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("kg2tool")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        graph = self.graph
        if not graph.apis:
            raise kit.Fatal("KG2Tool needs kg_triple seeds: the seed set's triples are its graph.")
        pattern = it.rng.choice(p.patterns)
        seed = it.rng.getrandbits(64)

        async def ground() -> dict[str, Any] | None:
            found = self.grounder.instantiate(
                pattern, random.Random(seed), tries=p.match_tries, max_answers=p.max_answers
            )
            return found.to_json() if found else None

        grounded = await it.compute("instantiate", ground)
        if grounded is None:
            raise kit.Drop("no_subgraph_match", pattern)
        inst = Instance(**grounded)
        it.use_seeds(*(self.rows[i] for i in inst.seed_ids if i in self.rows))
        calls, result = solve(graph, inst.query)
        it.check(bool(result), "empty_answer", pattern)
        it.check(result == inst.answers, "execution_mismatch", f"{result} != {inst.answers}")
        fol = describe(graph, inst.query)
        novelty = await it.dedup_l("queries", f"{pattern} {fol}")
        it.check(novelty.novel, "duplicate_query", fol)
        kinds = sorted({graph.types.get(a, "entity") for a in inst.answers})
        made = await it.gen(
            "query", query=fol, anchors=" and ".join(inst.anchors), answer_type="/".join(kinds),
            temperature=p.temperature, max_tokens=p.max_tokens,
        )  # fmt: skip
        question = first_question(made.text)
        it.check(bool(question), "empty_query")
        missing = [a for a in inst.anchors if not mentions(question, a)]
        it.check(not missing, "query_misses_anchor", ", ".join(missing))
        leaked = [a for a in inst.answers if mentions(question, a)]
        it.check(not leaked, "query_leaks_answer", ", ".join(leaked))
        messages = [{"role": "user", "content": question}, *turns(calls)]
        if p.final_answer:
            messages.append(answer_turn(inst.answers))
        used = list(dict.fromkeys(c.name for c in calls))
        others = [n for n in graph.apis if n not in used]
        it.rng.shuffle(others)
        shown = sorted(used + others[: max(0, p.max_tools - len(used))])
        relations = sorted({graph.apis[c.name].relation for c in calls if c.name in graph.apis})
        metadata = {
            "pattern": pattern, "fol": fol, "query": inst.query, "anchors": inst.anchors,
            "answers": inst.answers, "calls": len(calls), "turns": len({c.wave for c in calls}),
        }  # fmt: skip
        extra = {
            "source": "recipe:kg2tool", "metadata": metadata, "gold": ", ".join(inst.answers),
            "tags": [f"pattern:{pattern}", *(f"relation:{r}" for r in relations)],
        }  # fmt: skip
        return fmt.tool_trajectory(
            messages, graph.tools(shown), step="tool_trajectory", extra=extra,
            prompt_version=made.version,
        )  # fmt: skip

"""MATRIX / MATRIX-Gen (METHODS.md #16): Tang et al., "Synthesizing Post-Training Data for
LLMs through Multi-Agent Simulation", ACL 2025, arXiv 2410.14251 (ShuoTang123/MATRIX-Gen;
the simulator's code is not released).

A world is one work item: ① N agents from persona seeds, each with a life goal (its
attributes' goal, else GEN) → ② R rounds: every agent plans an action (GEN); a modulator
that groups agents by profile similarity (local MiniLM embeddings) decides who hears each
action, inside its group or in another (structured communication) → ③ each agent's round
is logged as a scenario (an id, the agents involved, the messages heard and sent) and
becomes a work item of its own: ④ GEN an instruction the agent would ask an assistant,
grounded in the scenario (general, code or safety; a complexity level) → DEDUP-L → ⑥ JUDGE
its grounding (2 samples: a confidence) → ⑤ GEN the response (SFT), or several responses
judged for quality, best against worst (DPO) → FMT, the scenario in metadata.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

from pydantic import Field

from generation.recipes import kit
from generation.recipes import matrix_sim as ms
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kit import fmt, parse
from generation.recipes.kit.pairing import best_vs_worst

FOCUS = {
    "general": "It can be any everyday task: advice, writing, planning, explaining or "
    "comparing options.",
    "code": "Make it a programming task (code to write, fix or explain) that this person "
    "would really need here.",
    "safety": "Make it a request where a careful assistant has to weigh safety, privacy or "
    "possible harm (it may be borderline), as this person would really ask it.",
}
COMPLEXITY = {
    "simple": "Keep it short and simple: one clear question or task.",
    "moderate": "Give it two or three specific requirements.",
    "complex": "Make it demanding: several constraints or steps the answer must satisfy.",
}
TOO_FEW = "MATRIX needs a seed set with two or more persona seeds (a world's agents)."
LOG_LIMIT = 5000  # scenarios read for the run's report
_REQUEST = re.compile(r"^\W*(?:the\s+|my\s+)?request\W*:\s*", re.I)  # small models add it


class Params(RecipeParams):
    n_agents: int = Field(6, ge=2, le=12, description="Personas per world (the paper: 1,000).")
    rounds: int = Field(3, ge=1, le=6, description="Rounds of actions per world.")
    group_size: int = Field(
        3, ge=2, le=12, description="Agents per homophily group: the most similar profiles "
        "(local embeddings) are grouped together.",
    )  # fmt: skip
    modulator: Literal["llm", "rule"] = Field(
        "llm", description="Who hears an action: llm, the group's modulator model picks; "
        "rule, the agent's group and its most similar agent in another group.",
    )  # fmt: skip
    memory: int = Field(
        4, ge=0, le=12, description="Messages of the last round an agent reads before acting."
    )
    temperature: float = Field(0.8, ge=0.0, le=2.0, description="Goals and actions.")
    action_tokens: int = Field(160, ge=32, le=1024, description="Per action.")
    instruction_kind: Literal["general", "code", "safety", "mixed"] = Field(
        "general", description="What the instructions ask for; mixed draws one per scenario."
    )
    complexity: Literal["simple", "moderate", "complex"] = Field("moderate")
    instruction_temperature: float = Field(0.7, ge=0.0, le=2.0)
    rouge_threshold: float = Field(
        0.7, gt=0.0, le=1.0, description="Instructions with ROUGE-L above this vs the run's drop."
    )
    judge_samples: int = Field(
        2, ge=1, le=10, description="Judge replies per verdict; their spread is the confidence."
    )
    judge_temperature: float = Field(0.7, ge=0.0, le=2.0)
    min_grounded: float = Field(
        3.0, ge=0.0, le=5.0, description="Instructions whose grounding score (0-5) is lower drop."
    )
    output: Literal["sft", "preference"] = Field(
        "sft", description="sft: one response; preference: n responses judged, best vs worst."
    )
    n_responses: int = Field(2, ge=2, le=8, description="Responses per instruction (preference).")
    response_temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(1024, ge=16, le=8192, description="Per response.")


@kit.register
class Matrix(kit.Recipe[Params]):
    meta = kit.Meta(
        "matrix", "MATRIX / MATRIX-Gen", entry=16, version="1", output="sft+preference",
        section="multi_agent", inputs=frozenset({"persona"}),
        roles=(kit.POLICY,
               kit.Role(ms.SIMULATOR, "Plays the agents and the modulator; defaults to policy.",
                        False, "policy"),
               kit.Role("judge", "Judges grounding (and response quality); defaults to policy.",
                        False, "policy")),
        summary="Personas live a few rounds in a small simulated world; a modulator groups "
        "them by profile similarity and routes their actions; each agent's round is a "
        "scenario that grounds an instruction, its response and a grounding judgement.",
        needs=(
            kit.Need("EMB", "grouping agents by profile similarity",
                     "Seedbed's local MiniLM, no endpoint needed; word overlap if it cannot load"),
            kit.Need("N", "several responses per instruction", "single requests in parallel "
                     "(automatic)", when=lambda p: p.output == "preference"),
        ),
        yield_per_item=0.0, spawns_per_item=18.0,
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "personas", "N = 6 persona seeds make a world's agents."),
        Step("GEN", "goal", "A life goal per agent, unless its attributes give one."),
        Step("SIM", "world", "R = 3 rounds; the agents are grouped by profile similarity "
             "(local MiniLM embeddings, 3 per group); each round every agent plans an action "
             "(GEN act) from its goal and what it heard."),
        Step("GEN", "route", "The group's modulator picks who hears each action, in the group "
             "(intra-group) or in another (inter-group); or a rule: the group and the most "
             "similar agent elsewhere."),
        Step("FMT", "scenario", "Each agent's round is a scenario (id, agents involved, "
             "messages heard and sent): a work item of its own."),
        Step("GEN", "instruction", "The request the agent would ask an assistant in the "
             "scenario: general, code or safety; simple, moderate or complex."),
        Step("DEDUP-L", "rouge_l", "ROUGE-L ≤ 0.7 against the run's instructions."),
        Step("JUDGE", "grounded", "Grounded in the scenario and clear, 0-5, 2 samples; "
             "below 3 drops."),
        Step("GEN", "respond", "The response (preference: n responses)."),
        Step("JUDGE", "quality", "Preference only: each response 0-5, 2 samples."),
        Step("PAIR", "best_vs_worst", "Preference only: best against worst; ties drop."),
        Step("FMT", "sft", "instruction → response (or a DPO pair), the scenario id and text "
             "in metadata."),
    )  # fmt: skip
    deviations = (
        "A small world: N = 6 agents by default (at most 12) from the run's persona seeds, "
        "not the paper's 1,000 agents from real user profiles; many worlds replace one big one.",
        "The simulator's code is not released: the world (goals, rounds, memory, what a "
        "scenario is: one agent's round with what it heard and who heard its action) is our "
        "design after the paper's description.",
        "The modulator's grouping rule is ours: the first ungrouped agent and its most similar "
        "ungrouped others (cosine of local MiniLM profile embeddings; word overlap if it "
        "cannot load) form groups of 3. Routing is a prompt to the group's modulator (or a "
        "rule: the group and the most similar agent elsewhere); the paper does not publish it.",
        "Instructions come from a prompt per scenario (general, code or safety focus; three "
        "complexity levels); the paper's multi-turn variant and its domain-specific "
        "generators are not included. All prompts are our wording.",
        "Filters are ours: ROUGE-L ≤ 0.7 between instructions, and a 0-5 grounding judge "
        "(2 samples, keep ≥ 3); the paper names no thresholds.",
        "Preference pairs: n responses from the policy model judged 0-5 for quality, best "
        "against worst; the paper's DPO data may come from different models.",
    )

    @classmethod
    def check_start(cls, params: Any, seed_set: Any | None) -> None:
        if seed_set is not None and seed_set.seeds.filter(kind="persona").count() < 2:
            raise ValueError(TOO_FEW)

    async def setup(self, run: Any) -> None:
        if sum(s.kind == "persona" for s in run.seeds) < 2:
            raise ValueError(TOO_FEW)
        run.rouge_pool("instructions", run.params.rouge_threshold)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("mx:w")

    @classmethod
    def report(cls, run: Any) -> dict[str, Any]:
        """The scenario log: scenarios, worlds, and messages inside and across groups."""
        from generation.runs.models import RunItem  # a database read, like udasa's report

        rows = RunItem.objects.filter(run_id=run.pk, lane="scenario").order_by("pk")
        logged = [s for s in rows.values_list("payload", flat=True)[:LOG_LIMIT] if s]
        kinds = [m.get("kind") for s in logged for m in s.get("told", [])]
        return {
            "scenarios": len(logged),
            "worlds": len({s.get("world") for s in logged}),
            "messages": {"intra": kinds.count("intra"), "inter": kinds.count("inter")},
        }

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        if it.lane == "scenario":
            return await self.instruct(it)
        await self.world(it)
        return None

    async def world(self, it: kit.Item[Params]) -> None:
        personas = [s for s in it.seeds if s.kind == "persona"]
        chosen = await it.sample(personas, it.params.n_agents)
        it.check(len(chosen) >= 2, "too_few_personas")
        world = await ms.simulate(it, chosen, f"w{it.payload}")
        inter = sum(m["kind"] == "inter" for m in world.messages)
        it.note("intra_group_messages", len(world.messages) - inter)
        it.note("inter_group_messages", inter)
        it.check(bool(world.scenarios), "no_actions")
        for s in world.scenarios:
            await it.spawn(f"mx:s:{s['id']}", s, lane="scenario")

    async def instruct(self, it: kit.Item[Params]) -> kit.Out:
        p, s = it.params, it.payload
        it.seed_ids = list(s["seed_ids"])
        kind = it.rng.choice(sorted(FOCUS)) if p.instruction_kind == "mixed" else p.instruction_kind
        made = await it.gen("instruction", scenario=s["text"], agent=s["agent"], focus=FOCUS[kind],
                            complexity=COMPLEXITY[p.complexity],
                            temperature=p.instruction_temperature, max_tokens=512)  # fmt: skip
        instruction = _REQUEST.sub("", parse.unwrap(made.text)).strip()
        it.check(not made.truncated, "instruction_cut_off")
        it.check(len(instruction.split()) >= 3, "empty_instruction")
        novelty = await it.dedup_l("instructions", instruction)
        it.check(novelty.novel, "copies_instruction", f"ROUGE-L {novelty.score}")
        grounded = await it.judge(
            "grounded", scenario=s["text"], instruction=instruction, samples=p.judge_samples,
            temperature=p.judge_temperature,
        )  # fmt: skip
        if grounded.score is None:
            raise kit.Drop("grounding_unparsable")
        it.check(grounded.score >= p.min_grounded, "not_grounded", f"score {grounded.score}")
        metadata = {
            "scenario_id": s["id"], "scenario": s["text"], "world": s["world"],
            "round": s["round"], "agent": s["agent"], "agents": s["agents"], "group": s["group"],
            "messages": {"heard": s["heard"], "told": s["told"]},
            "instruction_kind": kind, "complexity": p.complexity,
            "grounding": {"score": grounded.score, "samples": grounded.scores},
            "max_rouge_l": novelty.score,
        }  # fmt: skip
        extra = {"source": "simulation:matrix", "metadata": metadata, "tags": [f"kind:{kind}"]}
        verdict = fmt.judgement("grounded", grounded)
        if p.output == "preference":
            return await self.pair(it, instruction, extra, verdict)
        answer = await it.gen("respond", prompt=instruction, temperature=p.response_temperature,
                              max_tokens=p.max_tokens)  # fmt: skip
        it.check(bool(answer.text.strip()) and not answer.truncated, "empty_response")
        return fmt.sft(instruction, answer.text.strip(), step="respond", extra=extra,
                       prompt_version=answer.version, judge_score=grounded.score,
                       judgements=[verdict])  # fmt: skip

    async def pair(
        self, it: kit.Item[Params], instruction: str, extra: dict[str, Any], grounded: Any
    ) -> kit.Piece:
        p = it.params
        answers = await it.gen(
            "respond", prompt=instruction, n=p.n_responses, temperature=p.response_temperature,
            max_tokens=p.max_tokens,
        )  # fmt: skip
        texts = [t.strip() for t in answers.texts]
        judged = await asyncio.gather(*(
            it.judge("quality", prompt=instruction, response=t, samples=p.judge_samples,
                     temperature=p.judge_temperature)
            for t in texts
        ))  # fmt: skip
        scores = [j.score if texts[i] else None for i, j in enumerate(judged)]
        best, worst = best_vs_worst(scores)
        extra["metadata"]["quality"] = {"scores": scores, "chosen": best, "rejected": worst}
        verdicts = [grounded, fmt.judgement("chosen", judged[best]),
                    fmt.judgement("rejected", judged[worst])]  # fmt: skip
        return fmt.dpo(instruction, texts[best], texts[worst], step="best_vs_worst", extra=extra,
                       prompt_version=answers.version, judge_score=scores[best],
                       judgements=verdicts)  # fmt: skip

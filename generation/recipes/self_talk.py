"""Self-Talk (METHODS.md #15; Ulmer et al., "Bootstrapping LLM-based Task-Oriented Dialogue
Agents via Self-Talk", Findings of ACL 2024, arXiv 2401.05033; no public code).

① parse a workflow seed into a directed graph → ② SIM a client LLM (a persona seed and the
workflow's goal) with an agent LLM whose system prompt shows its current workflow step and
the steps allowed next (Agent.state) → ③ after every agent turn, mark the steps it completed
by embedding similarity of the turn to the step texts (Seedbed's local MiniLM, one journaled
step per turn) and note a proper ending (the client's end token, or the workflow's end) →
④ keep dialogues whose completion ratio reaches the threshold → ⑤ JUDGE the client's
character consistency (≥ 2 samples, so the judgement has a confidence). The paper's
bootstrapping (fine-tune the agent on the kept dialogues, then talk again) is outside Seedbed.

Workflows and personas come in one seed set (a JSONL file may mix both kinds).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt, pools
from generation.recipes.self_talk_flow import Progress, Workflow
from generation.sim import Agent, Conversation, Turn

END = "[END]"  # the client's end-of-conversation token
CLIENT, AGENT = "client", "agent"
ENDINGS = {"stop_token": "client_ended", "workflow_done": "workflow_done"}


class Params(RecipeParams):
    max_turns: int = Field(16, ge=2, le=60, description="Most turns, client and agent together.")
    match_threshold: float = Field(
        0.45, ge=0.0, le=1.0, description="Cosine of an agent turn to a step's text from which "
        "the step counts as done (local MiniLM).",
    )  # fmt: skip
    min_completion: float = Field(
        0.5, ge=0.0, le=1.0, description="Dialogues that complete a smaller share of the "
        "workflow's steps drop.",
    )  # fmt: skip
    min_completed_steps: int = Field(
        0, ge=0, le=50, description="Dialogues that complete fewer steps drop (the paper's "
        "best filter kept ≥ 5 completed subgoals).",
    )  # fmt: skip
    require_ending: bool = Field(
        True, description="Drop dialogues that hit the turn cap without a proper ending."
    )
    min_consistency: float = Field(
        3.0, ge=0.0, le=5.0, description="Dialogues whose client scores lower for character "
        "consistency (0-5) drop.",
    )  # fmt: skip
    judge_samples: int = Field(3, ge=2, le=10, description="Consistency judgements averaged.")
    judge_temperature: float = Field(0.7, ge=0.0, le=2.0)
    temperature: float = Field(0.8, ge=0.0, le=2.0, description="Both speakers.")
    max_tokens: int = Field(300, ge=16, le=4096, description="Most tokens per turn.")


def _embed(texts: list[str]) -> tuple[str, Any]:
    embedder = pools.local()  # the run's embedder, as DEDUP-E and UDASA reach it
    return embedder.name, embedder.encode(texts)


def lines(texts: list[str]) -> str:
    return "\n".join(f"- {t}" for t in texts)


@kit.register
class SelfTalk(kit.Recipe[Params]):
    meta = kit.Meta(
        "self_talk", "Self-Talk", entry=15, version="1", output="conversation",
        section="multi_agent", inputs=frozenset({"workflow", "persona"}),
        summary="A client persona talks with an agent that follows a workflow graph; steps "
        "the agent completes are matched by embeddings, and dialogues that complete enough "
        "of the workflow with an in-character client are kept.",
        roles=(
            kit.POLICY,
            kit.Role("client", "Plays the client persona; defaults to the policy model.",
                     required=False, fallback="policy"),
            kit.JUDGE,
        ),
        needs=(
            kit.Need("EMB", "workflow steps matched to agent turns by embedding similarity",
                     "Seedbed's local MiniLM, no endpoint needed"),
            kit.Need("MM", "a client model other than the agent model (optional)",
                     "one model plays both", role="client"),
        ),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "workflow_and_persona", "One workflow and one client persona from the "
             "seed set; the workflow becomes a directed graph of steps."),
        Step("SIM", "dialogue", "The client (persona + the workflow's goal) opens; the agent "
             "is shown its current step and the allowed next steps at each turn."),
        Step("CHECK", "steps_done", "After each agent turn: the step it may do (current, or "
             "one further on) whose text it is most similar to (local MiniLM cosine) is done "
             "at ≥ 0.45; the agent moves on past it."),
        Step("CHECK", "ending", "A proper ending: the client's [END] or the workflow's end; "
             "the turn cap without one drops."),
        Step("CHECK", "completion", "Completion = completed steps / steps; below 0.5 drops "
             "(checked before the judge, which costs calls)."),
        Step("JUDGE", "consistency", "The client's character consistency with its persona, "
             "0-5, 3 samples; below 3 drops."),
        Step("FMT", "conversation", "The dialogue (agent turns as the assistant's), with "
             "completion, completed steps and consistency in metadata."),
    )  # fmt: skip
    deviations = (
        "No bootstrapping: the paper fine-tunes the agent on the kept dialogues and talks "
        "again; Seedbed makes one round's dialogues (a new round is a new run against the "
        "trained agent).",
        "Completed steps are found by embedding similarity (local MiniLM, cosine threshold "
        "0.45, ours [~]) of each agent turn to the step texts, not by the paper's trained "
        "step classifier. A turn completes at most one step: its current step or one step "
        "further on; a skipped step stays undone.",
        "The completion thresholds (ratio 0.5, 0 steps) are ours [~]; the paper's best filters "
        "are reported as ≥ 5 completed subgoals or the top 5 % by completion.",
        "Character consistency is an LLM judge's 0-5 score (3 samples), not the paper's "
        "consistency model; the threshold 3 is ours.",
        "Client personas are persona seeds (the paper uses LIGHT characters); workflows and "
        "personas come in one seed set. The client, agent, state and judge prompts are ours.",
        "A proper ending is the client's [END] token or the agent completing a step that ends "
        "the workflow; dialogues cut by the turn cap (16, ours) drop.",
    )

    @classmethod
    def check_start(cls, params: Any, seed_set: Any | None) -> None:
        kinds = set(getattr(seed_set, "kinds", None) or [])
        lacking = [k for k in ("workflow", "persona") if k not in kinds]
        if seed_set is not None and lacking:
            raise ValueError(
                f"Self-Talk needs workflow and persona seeds in one seed set (a JSONL file may "
                f"mix both kinds); this set has no {' and no '.join(lacking)} seeds."
            )

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("self_talk")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        flows = [s for s in it.seeds if s.kind == "workflow"]
        people = [s for s in it.seeds if s.kind == "persona"]
        it.check(bool(flows) and bool(people), "no_workflow_or_persona")
        picked: list[SeedRow] = [*await it.sample(flows, 1), *await it.sample(people, 1)]
        flow_seed, persona_seed = picked
        try:
            flow = Workflow.of(flow_seed.payload)
        except ValueError as exc:
            raise kit.Drop("bad_workflow", str(exc)) from None
        persona = persona_seed.text.strip()
        prompts = it.host.prompts
        goal = flow.goal or flow.name
        base = prompts["agent"].render(goal=goal)
        progress = Progress(flow)
        matches: list[dict[str, Any]] = []
        embedder: list[str] = []

        def state(conversation: Conversation) -> str:
            now = flow.texts(progress.frontier)
            current = now[0] if len(now) == 1 else "one of: " + " / ".join(now)
            return prompts["agent_state"].render(
                workflow=flow.name or goal, current=current,
                next=lines(flow.texts(progress.allowed_next()))
                or "- (none: this step ends the workflow)",
            )  # fmt: skip

        async def watch(conversation: Conversation, turn: Turn) -> str | None:
            if turn.agent != AGENT or progress.finished:
                return None
            candidates = progress.candidates()
            got = await self.similarity(it, turn.content, flow.texts(candidates))
            embedder[:] = [got["model"]]
            sims = dict(zip(candidates, got["sims"], strict=True))
            new = progress.advance(sims, p.match_threshold)
            best = max(candidates, key=lambda c: sims[c])
            matches.append({"turn": len(conversation.turns), "best": best,
                            "similarity": sims[best], "completed": new})  # fmt: skip
            return "workflow_done" if progress.finished else None

        options = {"temperature": p.temperature, "max_tokens": p.max_tokens}
        client_system = prompts["client"].render(persona=persona, goal=goal, end=END)
        agents = [
            Agent(CLIENT, role="client", system=client_system, as_role="user",
                  persona=persona, options=options),
            Agent(AGENT, system=base, state=state, persona=f"Workflow: {flow.name or goal}",
                  options=options),
        ]  # fmt: skip
        conversation = await it.sim(agents, max_turns=p.max_turns, stop_tokens=[END], check=watch)
        last = conversation.last()
        if conversation.stopped == "stop_token" and last is not None and last.agent == AGENT:
            await watch(conversation, last)  # an agent turn that ended the talk still counts
        it.check(conversation.stopped != "empty_turn", "empty_turn",
                 f"after {len(conversation.turns)} turns")  # fmt: skip
        ending = ENDINGS.get(conversation.stopped)
        it.check(ending is not None or not p.require_ending, "no_ending",
                 f"stopped: {conversation.stopped}")  # fmt: skip
        done, ratio = list(progress.done), progress.completion
        summary = f"completion {ratio} ({len(done)} of {len(flow.steps)} steps)"
        it.check(ratio >= p.min_completion, "low_completion", summary)
        it.check(len(done) >= p.min_completed_steps, "too_few_steps", summary)
        judged = await it.judge(
            "consistency", persona=persona, dialogue=self.transcript(conversation),
            samples=p.judge_samples, temperature=p.judge_temperature, maximum=5.0,
        )  # fmt: skip
        it.check(judged.score is not None, "unjudged_consistency")
        score = round(float(judged.score or 0.0), 4)
        it.check(score >= p.min_consistency, "inconsistent_client", f"consistency {score}")
        metadata = {
            "workflow": flow.name, "goal": flow.goal, "workflow_seed": flow_seed.id,
            "persona": persona_seed.payload.get("name") or "", "persona_seed": persona_seed.id,
            "completion": ratio, "completed_steps": done, "steps": len(flow.steps),
            "step_matches": matches, "match_threshold": p.match_threshold,
            "embedder": embedder[0] if embedder else "", "ended": conversation.stopped,
            "ended_properly": ending is not None, "consistency": score,
            "consistency_scores": judged.scores,
        }  # fmt: skip
        tags = [f"workflow:{flow.name}"] if flow.name else []
        return fmt.dialogue(
            conversation, system=base, step="dialogue", prompt_version=prompts["agent"].version,
            extra={"metadata": metadata, "tags": tags}, judge_score=score,
            judgements=[fmt.judgement("character consistency", judged)],
        )  # fmt: skip

    @staticmethod
    async def similarity(it: kit.Item[Params], text: str, steps: list[str]) -> dict[str, Any]:
        """Cosine of the turn to each step text: one journaled step, never re-embedded on
        resume. Without the local embedder the run cannot match steps, so it stops."""

        async def compute() -> dict[str, Any]:
            try:
                model, vectors = await asyncio.to_thread(_embed, [text, *steps])
            except (ImportError, OSError) as exc:
                raise kit.Fatal(f"Self-Talk matches workflow steps with the local MiniLM "
                                f"embedder, which could not load: {exc}") from None  # fmt: skip
            sims = [round(float(v @ vectors[0]), 4) for v in vectors[1:]]
            return {"model": model, "sims": sims}

        return await it.compute("match_steps", compute)

    @staticmethod
    def transcript(conversation: Conversation) -> str:
        names = {CLIENT: "Client", AGENT: "Agent"}
        return "\n".join(f"{names[t.agent]}: {t.content}" for t in conversation.turns)

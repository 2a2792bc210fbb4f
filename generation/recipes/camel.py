"""CAMEL (METHODS.md #14): two agents role-play a task, one instruction per turn.

① GEN role/task lists (optional: a role pair fitting each idea, or task ideas per listed
pair, CAMEL's AI-Society lists) → ② GEN the task specifier makes the idea specific in at most
50 words (temperature 1.0) → ③ SIM: the AI user instructs ("Instruction: … Input: …"),
the AI assistant answers ("Solution: … Next request."), each under its inception prompt →
④ CHECK after every turn: <CAMEL_TASK_DONE>, 40 messages, role flips, the assistant
instructing, repeated or empty turns, courtesy loops, cut-off turns → ⑤ FMT the dialogue
as OpenAI messages, ending with the assistant's turn.

A rule break ends the conversation without the turn that broke it, as the reference's
data script does; the conversation is kept when at least one exchange remains.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step, content_key
from generation.recipes.camel_rules import (
    RULE_BREAKS,
    STOP_TOKENS,
    broken_rule,
    parse_pair,
    parse_role_pair,
    parse_task_list,
    specified_task,
)
from generation.recipes.kit import fmt
from generation.recipes.kit.pools import EXACT
from generation.recipes.kit.seeds import seed_prompt
from generation.sim import Agent, Conversation, Turn

USER, ASSISTANT = "user", "assistant"  # the agents' names in the transcript's lineage
SPECIFIER = kit.Role(
    "specifier", "Writes role and task lists and specifies the task; defaults to the policy.",
    False, "policy",
)  # fmt: skip
USER_AGENT = kit.Role(
    "user_agent", "The AI user who gives the instructions; defaults to the policy.", False,
    "policy",
)  # fmt: skip


class Params(RecipeParams):
    role_pairs: list[str] = Field(
        default_factory=lambda: ["Python Programmer | Stock Trader"],
        description="'assistant role | user role', one a line: every idea is played by each.",
    )
    generate_roles: bool = Field(
        False, description="① Ask for a role pair that fits each idea (role_pairs unused)."
    )
    tasks_per_pair: int = Field(
        0, ge=0, le=50, description="① Task ideas generated per listed role pair, each one "
        "conversation; 0: the ideas are the seeds.",
    )  # fmt: skip
    list_temperature: float = Field(1.0, ge=0.0, le=2.0, description="For ① role/task lists.")
    specify_task: bool = Field(True, description="② Make the idea specific before the talk.")
    word_limit: int = Field(50, ge=5, le=300, description="Words the specified task may have.")
    specify_temperature: float = Field(1.0, ge=0.0, le=2.0)
    max_messages: int = Field(40, ge=2, le=100, description="Turns of both agents together.")
    temperature: float = Field(0.2, ge=0.0, le=2.0, description="For the role-play turns.")
    max_tokens: int = Field(1024, ge=32, le=8192, description="Per turn; a cut-off turn ends it.")
    min_exchanges: int = Field(
        1, ge=1, le=50, description="Instruction-solution pairs a kept conversation needs."
    )
    require_done: bool = Field(
        False, description="Keep only conversations the user ended with <CAMEL_TASK_DONE>."
    )
    keep_system: bool = Field(
        True, description="Start the sample with the assistant's inception prompt."
    )

    @field_validator("role_pairs")
    @classmethod
    def _pairs(cls, value: list[str]) -> list[str]:
        return [" | ".join(parse_pair(line)) for line in value if line.strip()]


class Alternate:
    """The user first, then the assistant, in turn; remembers who spoke last."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, conversation: Conversation) -> str:
        self.last = (USER, ASSISTANT)[len(conversation.turns) % 2]
        return self.last


@kit.register
class Camel(kit.Recipe[Params]):
    meta = kit.Meta(
        "camel", "CAMEL", entry=14, version="1", output="conversation", section="multi_agent",
        summary="An AI user instructs and an AI assistant solves, one instruction per turn, "
        "under inception prompts, on a task the specifier made specific; role flips, "
        "repeats and the done token end the dialogue.",
        inputs=frozenset({"instruction", "text"}), roles=(kit.POLICY, USER_AGENT, SPECIFIER),
        needs_seed_set=False,
    )  # fmt: skip
    steps = (
        Step("GEN", "roles", "Optional: a role pair that fits the idea."),
        Step("GEN", "tasks", "Optional: task ideas for a role pair, each a conversation."),
        Step("GEN", "specify", "Make the idea specific in at most 50 words (temperature 1.0)."),
        Step("SIM", "role_play", "The user instructs, the assistant solves; up to 40 messages."),
        Step(
            "CHECK",
            "stop",
            "Done token, role flips, repeats, empty or cut-off turns end it; too short drops it.",
        ),
        Step("FMT", "conversation", "OpenAI messages ending with the assistant; roles, tasks."),
    )
    deviations = (
        "Inception, specifier, kickoff and list prompts are our wording of the paper's rules.",
        "Task ideas are the seeds (or tasks_per_pair generated per listed role pair); the "
        "paper's 50 × 50 generated AI-Society roles are replaced by listed role pairs, or "
        "generate_roles asks for one pair per idea.",
        "The reference tolerates two user turns in a row without 'Instruction:' (ends at "
        "three); we end at the first, so every kept user turn is an instruction.",
        "A turn that breaks a rule (role flip, repeat, courtesy loop, cut off at max_tokens: "
        "our stand-in for the token limit) is not kept, nor an unanswered last instruction: "
        "samples end with the assistant. The user's closing turn is kept in metadata.",
        "A turn repeating one of the same agent's earlier turns ends the conversation (ours, "
        "beside the reference's four-turns-of-courtesies rule).",
        "Conversations with fewer than min_exchanges exchanges are dropped (the reference "
        "keeps every one).",
    )  # fmt: skip

    @classmethod
    def check_start(cls, params: Any, seed_set: Any | None) -> None:
        if params.tasks_per_pair and params.generate_roles:
            raise ValueError("Generated task lists need the listed role pairs: turn off "
                             "generate_roles or set tasks_per_pair to 0.")  # fmt: skip
        if not params.role_pairs and not params.generate_roles:
            raise ValueError("CAMEL needs role pairs ('assistant role | user role') or "
                             "generate_roles.")  # fmt: skip
        if not params.tasks_per_pair and seed_set is None:
            raise ValueError("CAMEL needs task ideas: choose a seed set of instructions or "
                             "texts, or set tasks_per_pair.")  # fmt: skip

    async def setup(self, run: Any) -> None:
        self.ideas = [s for s in run.seeds if seed_prompt(s)]
        if not run.params.tasks_per_pair and not self.ideas:
            raise ValueError("CAMEL needs task ideas: the seed set has none.")
        run.rouge_pool("tasks", EXACT, k=1)

    def source(self, run: Any) -> Any:
        p: Params = run.params
        if p.tasks_per_pair:
            return kit.Source.numbered("camel:list")
        if p.generate_roles:
            return ((f"camel:{s.id}:g", (s, None)) for s in self.ideas)
        n = len(p.role_pairs)
        # Round r gives idea i the pair i + r: the first items already vary their roles.
        return (
            (f"camel:{s.id}:{(i + r) % n}", (s, (i + r) % n))
            for r in range(n)
            for i, s in enumerate(self.ideas)
        )

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        if it.lane == "talk":
            (a, u), idea = it.payload["pair"], it.payload["idea"]
            return await self.converse(it, a, u, idea, "params", "generated")
        if p.tasks_per_pair:
            await self.task_list(it)
            return None
        seed, index = it.payload
        it.use_seeds(seed)
        idea = seed_prompt(seed)
        if index is not None:
            a, u = parse_pair(p.role_pairs[index])
            return await self.converse(it, a, u, idea, "params", "seed")
        made = await it.gen("roles", role="specifier", task=idea,
                            temperature=p.list_temperature, max_tokens=64)  # fmt: skip
        pair = parse_role_pair(made.text)
        if pair is None:
            raise kit.Drop("unparsable_roles", made.text[:200])
        return await self.converse(it, *pair, idea, "generated", "seed")

    async def task_list(self, it: kit.Item[Params]) -> None:
        """① CAMEL's task list for one listed role pair (in turn); each new idea is spawned."""
        p = it.params
        index = it.payload % len(p.role_pairs)
        a, u = parse_pair(p.role_pairs[index])
        made = await it.gen("tasks", role="specifier", assistant_role=a, user_role=u,
                            num_tasks=p.tasks_per_pair, temperature=p.list_temperature,
                            max_tokens=48 * p.tasks_per_pair)  # fmt: skip
        spawned = 0
        for idea in parse_task_list(made.text, p.tasks_per_pair, made.truncated):
            novelty = await it.dedup_l("tasks", f"{a} | {u} | {idea.lower()}")
            if not novelty.novel:
                it.count("repeated_task")
                continue
            payload = {"idea": idea, "pair": [a, u], "list": it.key}
            await it.spawn(f"camel:{index}:{content_key(a, u, idea.lower())}", payload,
                           lane="talk")  # fmt: skip
            spawned += 1
        it.check(spawned > 0, "no_new_tasks", made.text[:200])

    async def converse(
        self, it: kit.Item[Params], a: str, u: str, idea: str, roles_from: str, idea_from: str
    ) -> kit.Piece:
        p, prompts = it.params, it.host.prompts
        task = idea
        if p.specify_task:
            made = await it.gen("specify", role="specifier", assistant_role=a, user_role=u,
                                task=idea, word_limit=p.word_limit,
                                temperature=p.specify_temperature,
                                max_tokens=4 * p.word_limit)  # fmt: skip
            it.check(bool(made.text.strip()), "empty_specified_task")
            task = specified_task(made.text, p.word_limit, made.truncated) or ""
            it.check(bool(task), "specified_task_too_long", made.text[:200])
        names = {"assistant_role": a, "user_role": u, "task": task}
        options = {"temperature": p.temperature, "max_tokens": p.max_tokens}
        system = prompts["assistant_system"].render(**names).strip()
        agents = [
            Agent(USER, "user_agent", prompts["user_system"].render(**names).strip(),
                  as_role="user", options=options, kickoff=prompts["kickoff"].render().strip()),
            Agent(ASSISTANT, "policy", system, options=options),
        ]  # fmt: skip

        async def check(conversation: Conversation, turn: Turn) -> str | None:
            return broken_rule(conversation, turn, USER)

        order = Alternate()
        conversation = await it.sim(agents, order=order, max_turns=p.max_messages,
                                    stop_tokens=STOP_TOKENS, check=check)  # fmt: skip
        reason, dropped = ending(conversation, order.last)
        exchanges = sum(t.agent == ASSISTANT for t in conversation.turns)
        it.check(exchanges >= p.min_exchanges, "too_short", reason)
        it.check(reason == "task_done" or not p.require_done, "not_done", reason)
        meta = {
            "assistant_role": a, "user_role": u, "original_task": idea, "specified_task": task,
            "termination_reason": reason, "messages": len(conversation.turns),
            "exchanges": exchanges, "dropped_turns": dropped, "roles_from": roles_from,
            "idea_from": idea_from,
        }  # fmt: skip
        return fmt.dialogue(
            conversation, system=system if p.keep_system else None, step="role_play",
            extra={"metadata": meta, "tags": [a, u]},
            prompt_version=prompts["assistant_system"].version,
        )  # fmt: skip


def ending(conversation: Conversation, last: str) -> tuple[str, list[dict[str, str]]]:
    """Why the talk ended in CAMEL's terms, and the turns left out of the transcript: the
    turn that broke a rule, and a last user turn nobody answered (the closing words)."""
    stopped = conversation.stopped
    reason = {"max_turns": "max_messages"}.get(stopped, stopped)
    if stopped == "stop_token":
        reason = {USER: "task_done"}.get(last, "assistant_done")
    dropped: list[dict[str, str]] = []
    if stopped in RULE_BREAKS and conversation.turns:
        t = conversation.turns.pop()
        dropped.append({"agent": t.agent, "content": t.content, "why": stopped})
    if conversation.turns and conversation.turns[-1].agent == USER:
        t = conversation.turns.pop()
        why = {"task_done": "closing"}.get(reason, "unanswered")
        dropped.append({"agent": t.agent, "content": t.content, "why": why})
    return reason, dropped

"""Magpie (entry B1, beyond the seed list): Xu et al., "Magpie: Alignment Data Synthesis from
Scratch by Prompting Aligned LLMs with Nothing", ICLR 2025, arXiv 2406.08464.

① GEN: send an aligned model only its chat template's pre-query (the text up to where a
user's message starts, e.g. `<|im_start|>user\n`) on /v1/completions; what it writes, up to
the end of the turn, is a user query of its own → CHECK: not empty or short, not truncated,
a request rather than an assistant's answer → DEDUP-L: no exact or ROUGE-L near copy of an
earlier instruction → optional JUDGE of the query's quality (and difficulty) → ② GEN the
response through chat → FMT SFT. No seeds are read. A chat-only endpoint cannot do ①: the
run fails at its start when "Test connection" knows, else at its first item.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from generation.llm import CapabilityError, PermanentLLMError
from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.pools import EXACT
from generation.recipes.kit.results import Gen
from generation.recipes.magpie_templates import (
    CUSTOM,
    TEMPLATES,
    assistant_like,
    pre_query,
    read_instruction,
    stops,
)

# What a chat-only server answers on /v1/completions: no such route, or a 400 that says so.
_NO_ROUTE = frozenset({404, 405, 501})
_SAYS_SO = re.compile(r"complet|chat|endpoint|route|not (?:supported|found)", re.I)
_DIFFICULTY = re.compile(r"difficulty\s*[:=]\s*\**\s*(very easy|easy|medium|very hard|hard)", re.I)
RESPONDER = kit.Role("responder", "Answers the instructions; defaults to the policy model.",
                     False, "policy")  # fmt: skip


def chat_only(name: str) -> str:
    return (
        f"Magpie needs /v1/completions (the pre-query trick); endpoint {name!r} is chat-only. "
        "Use an endpoint that serves completions, such as llama.cpp or vLLM."
    )


class Params(RecipeParams):
    template: Literal["qwen2.5", "chatml", "llama3", "gemma", "mistral", "phi3", "custom"] = Field(
        "qwen2.5", description="The policy model's chat template (custom: pre_query)."
    )
    system: str = Field(
        "",
        description="A system prompt in the pre-query (steers the domain); empty: the "
        "template's default (Qwen2.5's own, none for the others).",
    )
    pre_query: str = Field("", description="custom template only: the exact pre-query text.")
    stop: list[str] = Field(
        default_factory=list, description="More stop strings (a custom template's end of turn)."
    )
    single_line: bool = Field(
        True, description="Stop the instruction at its first newline (the reference code's)."
    )
    instruction_temperature: float = Field(1.0, ge=0.0, le=2.0)
    instruction_top_p: float = Field(1.0, gt=0.0, le=1.0)
    instruction_max_tokens: int = Field(512, ge=16, le=4096)
    min_words: int = Field(3, ge=1, le=100, description="Shorter instructions drop.")
    rouge_threshold: float = Field(
        0.7, gt=0.0, le=1.0, description="Instructions with ROUGE-L above this vs earlier drop."
    )
    quality_judge: bool = Field(
        False, description="Rate each instruction's quality (1-5) and difficulty with the judge."
    )
    min_quality: float = Field(3.0, ge=1.0, le=5.0, description="With the judge: lower drops.")
    response_temperature: float = Field(0.0, ge=0.0, le=2.0)
    response_max_tokens: int = Field(2048, ge=16, le=8192)


@kit.register
class Magpie(kit.Recipe[Params]):
    meta = kit.Meta(
        "magpie", "Magpie", entry="B1", version="1", output="sft", section="beyond",
        roles=(kit.POLICY, RESPONDER, kit.JUDGE), needs_seed_set=False,
        needs=(kit.Need("COMP", "the pre-query is continued on /v1/completions"),),
        summary="Instructions from nothing: an aligned model continues its chat template's "
        "pre-query on /v1/completions, then answers what it wrote.",
    )  # fmt: skip
    steps = (
        Step("GEN", "instruction", "The pre-query alone on /v1/completions, to the end of turn."),
        Step("CHECK", "instruction_rules", "Not empty, short or cut off; a request, not a reply."),
        Step("DEDUP-L", "novelty", "No exact copy, ROUGE-L ≤ 0.7 against earlier instructions."),
        Step("JUDGE", "quality", "Optional: quality 1-5 and difficulty; below 3 drops."),
        Step("GEN", "response", "The instruction as a user turn, through chat, greedy."),
        Step("FMT", "sft", "instruction → response, the template and pre-query in metadata."),
    )
    deviations = (
        "The instruction is sampled over the OpenAI-compatible /v1/completions API, not a local "
        "vLLM engine; no BOS token is written (the servers add it) and stop strings stand in "
        "for the reference code's stop token ids.",
        "The response is asked through chat, where the server applies the model's own "
        "template, as the reference code's API route does.",
        "Duplicates are dropped by ROUGE-L against earlier instructions, not by the paper's "
        "embedding nearest-neighbour distance; the assistant-like filter is simple rules.",
        "The paper rates quality, difficulty, task category and reward with several models "
        "after generation; here an optional judge rates quality (and notes difficulty) per "
        "instruction, default off. The rating prompt's wording is ours.",
    )

    @classmethod
    def check_start(cls, params: Any, seed_set: Any | None) -> None:
        if params.template == CUSTOM and not params.pre_query:
            raise ValueError("A custom template needs its pre-query text (pre_query).")
        template = TEMPLATES.get(params.template)
        if template is not None and params.system.strip() and not template.system:
            raise ValueError(
                f"The {params.template} template has no system turn; leave system "
                "empty, or write the pre-query yourself (template custom)."
            )

    async def setup(self, run: Any) -> None:
        p: Params = run.params
        self.pre_query = pre_query(p.template, p.system, p.pre_query)
        self.stops = stops(p.template, p.stop, p.single_line)
        self.system = p.system.strip()
        client, _model, key = run.client("policy")
        self.endpoint = key
        self.endpoint_name, capabilities = await run.in_db(_endpoint, client.config.endpoint_id)
        if capabilities.get("completions") is False or key in _chat_only(run.state):
            raise ValueError(chat_only(self.endpoint_name))
        run.rouge_pool("instructions", p.rouge_threshold, k=1)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("magpie")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        made = await self.instruction(it)
        instruction = read_instruction(made.text, self.stops, p.single_line)
        it.check(bool(instruction), "empty_instruction")
        it.check(not made.truncated, "truncated_instruction")
        it.check(len(instruction.split()) >= p.min_words, "too_short", instruction[:200])
        it.check(not assistant_like(instruction), "assistant_like", instruction[:200])
        novelty = await it.dedup_l("instructions", instruction)
        if not novelty.novel:  # ROUGE-L 1.0: the same words in the same order
            copy = {True: "duplicate", False: "near_duplicate"}[novelty.score >= EXACT]
            raise kit.Drop(copy, f"ROUGE-L {novelty.score} vs {novelty.nearest!r}"[:300])
        metadata: dict[str, Any] = {"template": p.template, "pre_query": self.pre_query}
        judgements = []
        if p.quality_judge:
            judged = await it.judge("quality", instruction=instruction, max_tokens=64)
            if judged.score is None:
                raise kit.Drop("unjudgeable", judged.raw[0][:300] if judged.raw else "")
            it.check(judged.score >= p.min_quality, "low_quality", f"score {judged.score}")
            found = _DIFFICULTY.search(judged.raw[0]) if judged.raw else None
            metadata |= {"quality": judged.score, "difficulty": found and found.group(1).lower()}
            judgements.append(fmt.judgement("quality", judged))
        head = [{"role": "system", "content": self.system}] if self.system else []
        answer = await it.gen(messages=[*head, {"role": "user", "content": instruction}],
                              role="responder", temperature=p.response_temperature,
                              max_tokens=p.response_max_tokens)  # fmt: skip
        response = answer.text.strip()
        it.check(bool(response), "empty_response")
        it.check(not answer.truncated, "truncated_response")
        if self.system:
            metadata["system"] = self.system
        tags = [metadata["difficulty"]] if metadata.get("difficulty") else []
        extra = {"metadata": metadata, "tags": tags}
        return fmt.sft(instruction, response, step="response", extra=extra,
                       judge_score=metadata.get("quality"), judgements=judgements)  # fmt: skip

    async def instruction(self, it: kit.Item[Params]) -> Gen:
        """① the pre-query on /v1/completions; a chat-only endpoint fails the run with the
        reason (kit.Fatal), and is remembered in case the run is resumed."""
        p = it.params
        if self.endpoint in _chat_only(it.host.state):
            raise kit.Fatal(chat_only(self.endpoint_name))
        try:
            return await it.gen(messages=[{"role": "user", "content": self.pre_query}],
                                api="completions", stop=self.stops,
                                temperature=p.instruction_temperature, top_p=p.instruction_top_p,
                                max_tokens=p.instruction_max_tokens)  # fmt: skip
        except PermanentLLMError as exc:
            if not refuses_completions(exc):
                raise
            state = it.host.state.get("magpie", {})
            known = list(state.get("chat_only", []))
            it.host.state["magpie"] = {**state, "chat_only": [*known, self.endpoint]}
            raise kit.Fatal(f"{chat_only(self.endpoint_name)} ({exc})") from exc


def refuses_completions(exc: PermanentLLMError) -> bool:
    """Whether an error from /v1/completions says the endpoint has no such API."""
    if isinstance(exc, CapabilityError) or exc.status_code in _NO_ROUTE:
        return True
    return exc.status_code == 400 and bool(_SAYS_SO.search(str(exc)))


def _chat_only(state: dict[str, Any]) -> list[str]:
    return list(state.get("magpie", {}).get("chat_only", []))


def _endpoint(endpoint_id: int | None) -> tuple[str, dict[str, Any]]:
    """The endpoint's name and what "Test connection" found it can do (a database read)."""
    from curation.projects.models import ModelEndpoint

    if endpoint_id is None:
        return "", {}
    row = ModelEndpoint.objects.filter(pk=endpoint_id).values("name", "capabilities").first()
    return (str(row["name"]), dict(row["capabilities"] or {})) if row else ("", {})

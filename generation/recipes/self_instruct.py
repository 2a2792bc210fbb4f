"""Self-Instruct (METHODS.md #24): bootstrap tasks from a seed pool.

① SAMPLE 8 in-context instructions (6 human + 2 machine; all human while no machine ones
exist) → ② GEN the continuation of a numbered task list → ③ CHECK length, keywords, start
rules, and ROUGE-L ≤ 0.7 against the whole growing pool (an incremental index) → ④ JUDGE
classification or not (few-shot) → ⑤ GEN instances: output-first for classification,
input-first otherwise → ⑥ CHECK the instances; accepted instructions join the pool.
One sample per instance (instruction + input → output).
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import Field

from generation.llm import Completion, LLMClient, PermanentLLMError
from generation.recipes.base import (
    Outcome,
    Recipe,
    RecipeParams,
    RunContext,
    SampleDraft,
    Skip,
    Step,
    content_key,
)
from generation.rouge import RougeIndex

BLACKLIST = (
    "image",
    "images",
    "graph",
    "graphs",
    "picture",
    "pictures",
    "file",
    "files",
    "map",
    "maps",
    "draw",
    "plot",
    "go to",
)
_BLACKLIST_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in BLACKLIST) + r")\b", re.I)
_LINE_RE = re.compile(r"^\s*(?:task\s*)?(\d{1,2})\s*[.):]\s*(.+?)\s*$", re.I)
NO_INPUT = "<noinput>"


class Params(RecipeParams):
    in_context: int = Field(8, ge=2, le=16, description="Instructions shown per request.")
    machine_in_context: int = Field(2, ge=0, le=8, description="Of those, machine-made.")
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.5, gt=0.0, le=1.0)
    presence_penalty: float = Field(2.0, ge=-2.0, le=2.0)
    generation_api: Literal["auto", "completions", "chat"] = Field(
        "auto",
        description="Plain completions as in the paper; auto falls back to chat where the "
        "endpoint has no /v1/completions.",
    )
    max_tokens: int = Field(1024, ge=64, le=8192)
    stop_at: int = Field(16, ge=2, le=100, description='Stop generating at list item "N."')
    rouge_threshold: float = Field(0.7, gt=0.0, le=1.0, description="Keep only ROUGE-L ≤ this.")
    min_words: int = Field(4, ge=1, description="Fewer words than this are filtered (≤ 3).")
    max_words: int = Field(150, ge=10, description="More words than this are filtered.")
    max_instances: int = Field(5, ge=1, le=10)
    instance_temperature: float = Field(0.0, ge=0.0, le=2.0)
    instance_presence_penalty: float = Field(1.5, ge=-2.0, le=2.0)
    instance_max_tokens: int = Field(512, ge=32, le=4096)


def instruction_filter(text: str, p: Params) -> str | None:
    """The CHECK rules for a new instruction: the filter reason, or None to keep it."""
    words = text.split()
    if len(words) < p.min_words or len(words) > p.max_words:
        return "length"
    if _BLACKLIST_RE.search(text):
        return "keyword"
    if text.lower().startswith("write a program"):
        return "write_a_program"
    if not text[0].isascii():
        return "non_ascii_start"
    if not text[0].isalnum():
        return "punctuation_start"
    return None


def parse_tasks(text: str, first_number: int, shown: list[str]) -> list[str]:
    """New instructions from a continued numbered list.

    Small chat models often restart the list at 1 and copy examples; every numbered line
    counts, copies of what was shown are dropped here, and near-copies by ROUGE-L later.
    """
    tasks = []
    seen = {s.strip().lower() for s in shown}
    lines = text.splitlines()
    if lines and not _LINE_RE.match(lines[0]) and lines[0].strip():
        lines[0] = f"{first_number}. {lines[0]}"  # the model continued right after "N."
    for line in lines:
        m = _LINE_RE.match(line)
        if m and m.group(2).strip().lower() not in seen:
            tasks.append(m.group(2).strip())
            seen.add(m.group(2).strip().lower())
    return tasks


@dataclass
class Instance:
    input: str
    output: str


def parse_instances(text: str, output_first: bool) -> list[Instance]:
    out: list[Instance] = []
    if output_first:
        for block in re.split(r"(?im)^\s*class label\s*:", text)[1:]:
            label, _, rest = block.partition("\n")
            m = re.search(r"(?is)input\s*:\s*(.*)", rest)
            out.append(Instance(_clean(m.group(1)) if m else "", label.strip()))
    else:
        for block in re.split(r"(?im)^\s*example\s*\d*\s*:?\s*$", text):
            m = re.search(r"(?is)input\s*:\s*(.*?)\n\s*output\s*:\s*(.*)", block)
            if m:
                out.append(Instance(_clean(m.group(1)), m.group(2).strip()))
    return out


def _clean(value: str) -> str:
    value = value.strip()
    return "" if value.lower() == NO_INPUT else value


def instance_filter(instances: list[Instance], limit: int) -> tuple[list[Instance], str | None]:
    """Instance CHECKs: the kept instances, or none and the reason the task lost them."""
    by_input: dict[str, str] = {}
    for inst in instances:
        if inst.input in by_input and by_input[inst.input] != inst.output:
            return [], "instance_conflict"  # same input, different outputs: drop them all
        by_input[inst.input] = inst.output
    kept: list[Instance] = []
    seen: set[tuple[str, str]] = set()
    for inst in instances:
        if not inst.output or inst.input == inst.output:
            continue
        if inst.input.endswith(":") or inst.output.endswith(":"):
            continue
        if (inst.input, inst.output) in seen:
            continue
        seen.add((inst.input, inst.output))
        kept.append(inst)
    if not kept:
        return [], "no_valid_instances"
    return kept[:limit], None


@dataclass
class Task:
    instruction: str
    key: str
    seed_ids: list[int]
    machine_context: list[str]
    most_similar: list[tuple[str, float]] = field(default_factory=list)
    max_rouge: float = 0.0


class SelfInstruct(Recipe):
    id = "self_instruct"
    name = "Self-Instruct"
    entry = 24
    output_kind = "sft"
    version = "1"
    summary = "Bootstrap new tasks and instances from a seed pool, with a ROUGE-L novelty filter."
    Params: ClassVar[type[RecipeParams]] = Params
    steps = (
        Step("SAMPLE", "in_context", "6 human + 2 machine instructions."),
        Step("GEN", "generate", "Continue the numbered task list."),
        Step("CHECK", "heuristics", "Length, keywords, start rules."),
        Step("DEDUP-L", "rouge_l", "ROUGE-L ≤ 0.7 against the growing pool (incremental)."),
        Step("JUDGE", "is_classification", "Few-shot: classification task or not."),
        Step("GEN", "instances", "Output-first for classification, input-first otherwise."),
        Step("CHECK", "instances", "Drop bad instances; conflicting inputs drop the task."),
        Step("FMT", "sft", "instruction (+ input) → output."),
    )
    deviations = (
        "Prompt wording and few-shot demos are ours. Like the paper (GPT-3), it uses plain "
        "/v1/completions; with generation_api=auto it falls back to chat messages where an "
        "endpoint has no completions API.",
        'Only the "16." stop sequence is sent, not the blank line, and numbered lines are '
        "taken whatever their number (small models restart the list at 1); exact copies of "
        "the shown examples are dropped, near-copies by ROUGE-L.",
    )

    async def run_slice(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.human = [
            (s.id, str(s.payload["instruction"])) for s in ctx.seeds if s.kind == "instruction"
        ]
        if not self.human:
            raise ValueError("Self-Instruct needs a seed set of instruction seeds.")
        self.pool = RougeIndex()
        for _, text in self.human:
            self.pool.add(text)
        self.machine: list[str] = []
        for text in await ctx.run_instructions():
            self.pool.add(text)
            self.machine.append(text)
        self.rng = random.Random(f"{ctx.run_id}:{len(self.machine)}:{ctx.remaining()}")
        await self._loop()

    async def _loop(self) -> None:
        ctx = self.ctx
        jobs: list[Task] = []
        gens: set[asyncio.Task[tuple[str, Any]]] = set()
        works: set[asyncio.Task[tuple[str, Any]]] = set()
        yield_per_task, tasks_per_gen = 2.0, 2.0  # running estimates, to avoid over-generating
        made_tasks = made_samples = gen_done = barren = works_done = 0
        gen_slot = int(ctx.state.get("gen_calls", 0))
        while True:
            while len(gens) + len(works) < ctx.max_inflight and not ctx.should_stop():
                remaining = ctx.remaining()
                expected = (len(jobs) + len(works)) * yield_per_task
                expected += len(gens) * tasks_per_gen * yield_per_task
                queued = len(jobs) + len(gens) * tasks_per_gen
                # Refill one latency ahead, so the slots never wait for new tasks; start
                # work only while what is in flight does not already cover the target.
                if expected < remaining and queued < ctx.max_inflight:
                    gen_slot += 1
                    key = f"si:gen:{gen_slot}"
                    gens.add(asyncio.create_task(ctx.attempt(self._generate, key, None)))
                elif jobs and len(works) * yield_per_task < remaining:
                    task = jobs.pop(0)
                    works.add(asyncio.create_task(ctx.attempt(self._task, task.key, task)))
                else:
                    break
            if not gens and not works:
                break
            finished, _ = await asyncio.wait(
                gens | works, timeout=0.5, return_when=asyncio.FIRST_COMPLETED
            )
            for t in finished:
                key, result = t.result()
                if t in gens:
                    gens.discard(t)
                    gen_done += 1
                    if isinstance(result, Skip):
                        await ctx.emit([result])
                        continue
                    accepted = self._accept(result)
                    barren = 0 if accepted else barren + 1
                    made_tasks += len(accepted)
                    jobs.extend(accepted)
                    tasks_per_gen = max(0.2, made_tasks / gen_done)
                else:
                    works.discard(t)
                    works_done += 1
                    if not isinstance(result, Skip):
                        made_samples += len(result)
                    yield_per_task = max(0.5, made_samples / works_done)
                    await ctx.emit([result])
            ctx.state["gen_calls"] = gen_slot
            await ctx.maybe_flush()
            if barren >= ctx.max_inflight * 5 and not works and not jobs:
                # The model keeps proposing tasks the pool already has (or that fail the rules).
                ctx.mark_exhausted()
                for t in gens:
                    t.cancel()
                await asyncio.gather(*gens, return_exceptions=True)
                break
            if ctx.time_left() < -ctx.grace_seconds:
                for t in gens | works:
                    t.cancel()
                await asyncio.gather(*(gens | works), return_exceptions=True)
                break
        await ctx.commit([])

    async def _ask(self, llm: LLMClient, text: str, **options: Any) -> Completion:
        """The paper prompted a completion model; use /v1/completions where it exists."""
        api = self.ctx.state.get("api") or self.ctx.params.generation_api
        if api != "chat":
            try:
                return await llm.complete_text(text, **options)
            except PermanentLLMError as exc:
                if api == "completions" or exc.status_code not in (400, 404, 405, 501):
                    raise
                self.ctx.state["api"] = "chat"  # remembered for the rest of the run
        return await llm.complete([{"role": "user", "content": text}], **options)

    async def _generate(self, key: str, _: Any) -> Any:
        ctx = self.ctx
        p: Params = ctx.params
        n_machine = min(p.machine_in_context, len(self.machine))
        humans = self.rng.sample(self.human, min(p.in_context - n_machine, len(self.human)))
        machines = self.rng.sample(self.machine, n_machine)
        shown = [t for _, t in humans] + machines
        self.rng.shuffle(shown)
        listing = "\n".join(f"{i}. {t}" for i, t in enumerate(shown, 1))
        listing += f"\n{len(shown) + 1}."
        made = await self._ask(
            ctx.llm,
            ctx.prompts["generate"].render(examples=listing),
            temperature=p.temperature,
            top_p=p.top_p,
            presence_penalty=p.presence_penalty,
            max_tokens=p.max_tokens,
            stop=[f"{p.stop_at}."],
        )
        return {
            "tasks": parse_tasks(made.texts[0], len(shown) + 1, shown),
            "seed_ids": [i for i, _ in humans],
            "machine": machines,
        }

    def _accept(self, generated: dict[str, Any]) -> list[Task]:
        """CHECK and DEDUP-L, against the pool as it is right now (single-threaded)."""
        ctx = self.ctx
        p: Params = ctx.params
        accepted = []
        for text in generated["tasks"]:
            reason = instruction_filter(text, p)
            if reason:
                ctx.count_filtered(reason)
                continue
            novelty = self.pool.check(text, threshold=p.rouge_threshold, k=10)
            if not novelty.novel:
                ctx.count_filtered("rouge_l")
                continue
            self.pool.add(text)
            self.machine.append(text)
            accepted.append(
                Task(
                    instruction=text,
                    key=f"si:{content_key(text.lower())}",
                    seed_ids=generated["seed_ids"],
                    machine_context=generated["machine"],
                    most_similar=novelty.most_similar,
                    max_rouge=novelty.max_score,
                )
            )
        return accepted

    async def _task(self, key: str, task: Task) -> Outcome:
        ctx = self.ctx
        p: Params = ctx.params
        verdict = await self._ask(
            ctx.judge_llm,
            ctx.prompts["is_classification"].render(instruction=task.instruction),
            purpose="judge",
            temperature=0.0,
            max_tokens=3,
            stop=["\nTask:"],
            model=ctx.judge_model or None,
        )
        is_clf = verdict.texts[0].strip().lower().startswith("yes")
        name = "instances_output_first" if is_clf else "instances_input_first"
        made = await self._ask(
            ctx.llm,
            ctx.prompts[name].render(instruction=task.instruction),
            temperature=p.instance_temperature,
            presence_penalty=p.instance_presence_penalty,
            max_tokens=p.instance_max_tokens,
            stop=["\nTask:"],  # the few-shot pattern would go on to a new task
        )
        instances, reason = instance_filter(parse_instances(made.texts[0], is_clf), p.max_instances)
        if reason:
            # The instruction stays in the pool (as in the paper); record it to rebuild the pool.
            return Skip(key, "filtered", reason, detail=task.instruction)
        drafts = []
        for n, inst in enumerate(instances):
            user = task.instruction + (f"\n\n{inst.input}" if inst.input else "")
            drafts.append(
                SampleDraft(
                    work_key=f"{key}:{n}",
                    kind="sft",
                    messages=[
                        {"role": "user", "content": user},
                        {"role": "assistant", "content": inst.output},
                    ],
                    step="instances_output_first" if is_clf else "instances_input_first",
                    prompt_version=ctx.prompts[name].version,
                    model=ctx.model,
                    seed_ids=task.seed_ids,
                    label=inst.output if is_clf else "",
                    extra={
                        "instruction": task.instruction,
                        "input": inst.input,
                        "output": inst.output,
                        "is_classification": is_clf,
                        "most_similar": [[t, round(s, 4)] for t, s in task.most_similar],
                        "max_rouge_l": round(task.max_rouge, 4),
                        "machine_in_context": task.machine_context,
                        "generate_prompt_version": ctx.prompts["generate"].version,
                    },
                    tokens_in=(verdict.tokens_in + made.tokens_in) // len(instances),
                    tokens_out=(verdict.tokens_out + made.tokens_out) // len(instances),
                )
            )
        return drafts

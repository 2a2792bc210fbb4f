"""Self-Instruct (METHODS.md #24): bootstrap tasks from a seed pool.

① SAMPLE 8 in-context instructions (6 human + 2 machine; all human while no machine ones
exist) → ② GEN the continuation of a numbered task list → ③ CHECK length, keywords, start
rules, and ROUGE-L ≤ 0.7 against the whole growing pool (DEDUP-L) → each new task is a
work item of its own: ④ JUDGE classification or not (few-shot) → ⑤ GEN instances:
output-first for classification, input-first otherwise → ⑥ CHECK the instances.
One sample per instance (instruction + input → output), up to 5 chosen at random.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step, content_key
from generation.recipes.kit import fmt
from generation.recipes.self_instruct_filters import (
    instance_filter,
    instruction_filter,
    normalise,
    parse_instances,
    parse_tasks,
)


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
    max_instances: int = Field(5, ge=1, le=10, description="Instances kept per task, at random.")
    instance_temperature: float = Field(0.0, ge=0.0, le=2.0)
    instance_presence_penalty: float = Field(1.5, ge=-2.0, le=2.0)
    instance_max_tokens: int = Field(512, ge=32, le=4096)


@kit.register
class SelfInstruct(kit.Recipe[Params]):
    meta = kit.Meta(
        "self_instruct", "Self-Instruct", entry=24, version="2", output="sft", section="other",
        summary="Bootstrap new tasks and instances from a seed pool, with a ROUGE-L novelty "
        "filter.",
        inputs=frozenset({"instruction"}), roles=(kit.POLICY, kit.JUDGE),
        yield_per_item=0.0, spawns_per_item=2.0,
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "in_context", "6 human + 2 machine instructions."),
        Step("GEN", "generate", "Continue the numbered task list."),
        Step("CHECK", "heuristics", "Length, keywords, start rules; a cut-off last task drops."),
        Step("DEDUP-L", "rouge_l", "ROUGE-L ≤ 0.7 against the growing pool (incremental)."),
        Step("JUDGE", "is_classification", "Few-shot: classification task or not."),
        Step("GEN", "instances", "Output-first for classification, input-first otherwise."),
        Step("CHECK", "instances", "Drop invalid instances; conflicting inputs drop the task."),
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

    async def setup(self, run: Any) -> None:
        self.human = [s for s in run.seeds if s.payload.get("instruction")]
        if not self.human:
            raise ValueError("Self-Instruct needs a seed set of instruction seeds.")
        texts = [normalise(str(s.payload["instruction"])) for s in self.human]
        self.pool = run.rouge_pool("instructions", run.params.rouge_threshold, texts)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("si:gen")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        if it.lane == "instances":
            return await self.instances(it)
        await self.generate(it)
        return None

    async def generate(self, it: kit.Item[Params]) -> None:
        p = it.params
        n_machine = min(p.machine_in_context, len(self.pool.machine))
        humans = await it.sample(self.human, p.in_context - n_machine)
        machines = await it.sample(self.pool.machine, n_machine)
        shown = [normalise(str(s.payload["instruction"])) for s in humans] + machines
        it.rng.shuffle(shown)
        listing = "\n".join(f"{i}. {t}" for i, t in enumerate(shown, 1)) + f"\n{len(shown) + 1}."
        made = await it.gen(
            "generate", examples=listing, api=p.generation_api, temperature=p.temperature,
            top_p=p.top_p, presence_penalty=p.presence_penalty, max_tokens=p.max_tokens,
            stop=[f"{p.stop_at}."],
        )  # fmt: skip
        spawned = 0
        for text in parse_tasks(made.text, len(shown) + 1, shown, made.truncated):
            reason = instruction_filter(text, p.min_words, p.max_words)
            if reason:
                it.count(reason)
                continue
            novelty = await it.dedup_l("instructions", text)
            if not novelty.novel:
                it.count("rouge_l")
                continue
            task = {"instruction": text, "seed_ids": it.seed_ids, "machine_in_context": machines,
                    "most_similar": novelty.most_similar, "max_rouge_l": novelty.score}  # fmt: skip
            await it.spawn(f"si:{content_key(text.lower())}", task, lane="instances")
            spawned += 1
        it.check(spawned > 0, "no_new_tasks")

    async def instances(self, it: kit.Item[Params]) -> kit.Out:
        p, task = it.params, it.payload
        it.seed_ids = list(task["seed_ids"])
        asked = {"api": p.generation_api, "instruction": task["instruction"], "stop": ["\nTask:"]}
        verdict = await it.gen("is_classification", role="judge", temperature=0.0, max_tokens=3,
                               **asked)  # fmt: skip
        is_clf = verdict.text.strip().lower().startswith("yes")
        name = "instances_output_first" if is_clf else "instances_input_first"
        made = await it.gen(name, temperature=p.instance_temperature,
                            presence_penalty=p.instance_presence_penalty,
                            max_tokens=p.instance_max_tokens, **asked)  # fmt: skip
        kept, reason = instance_filter(parse_instances(made.text, is_clf, made.truncated))
        # The instruction stays in the pool even when its instances fail (as in the paper).
        it.check(reason is None, reason or "", task["instruction"])
        if len(kept) > p.max_instances:
            picks = sorted(it.rng.sample(range(len(kept)), p.max_instances))
            kept = [kept[i] for i in picks]
        shown = {k: v for k, v in task.items() if k != "seed_ids"}
        pieces = []
        for n, inst in enumerate(kept):
            prompt = task["instruction"] + (f"\n\n{inst.input}" if inst.input else "")
            extra = {
                **shown,
                "input": inst.input,
                "output": inst.output,
                "is_classification": is_clf,
            }
            label = inst.output if is_clf else ""
            pieces.append(
                fmt.sft(prompt, inst.output, suffix=str(n), step=name, label=label, extra=extra)
            )
        return pieces

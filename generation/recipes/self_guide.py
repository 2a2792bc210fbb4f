"""SELF-GUIDE (METHODS.md #25): the model writes inputs for a task, then answers them itself.

① SAMPLE ~3 labelled examples; GEN×n new inputs from the task instruction and the examples'
inputs (temperature 1.0) → ② CHECK/dedup the inputs (noise, exact copies of seeds or of
earlier inputs) → ③ GEN an output per input from the instruction and the demonstrations
(temperature 0.3) → ④ CHECK noise (template artifacts, role tags, meta-comments) → ⑤ CHECK
length: within the demonstrations' output length range × k (and, for classification, in the
label set) → ⑥ repeat until the target; FMT classification rows or SFT pairs. Fine-tuning
the same model on them is downstream.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.pools import EXACT
from generation.recipes.kit.seeds import label_space

NOISE = (
    # role tags and chat-template tokens
    "assistant:", "user:", "human:", "system:", "<|im_start|>", "<|im_end|>", "[inst]",
    "[/inst]", "<s>", "</s>",
    # template artifacts (our prompt's own field names, placeholders, headings)
    "input:", "output:", "instruction:", "example 1", "{{", "}}", "###",
    # meta-comments
    "(note", "note:", "as an ai", "i hope this helps", "let me know if",
)  # fmt: skip
# Meta-comments that open a reply or a line ("Here is a new input: …"); anywhere else they
# are ordinary words ("the food here is great").
OPENERS = ("here is", "here's", "here are", "sure", "certainly", "of course")
_LEADS = ("input:", "output:", "label:", "answer:")
_WRAP = "\"'“”`*"


class Params(RecipeParams):
    output_type: Literal["auto", "classification", "sft"] = Field(
        "auto", description="auto: classification rows for labelled seeds, else SFT pairs."
    )
    instruction: str = Field(
        "",
        max_length=4000,
        description="The task instruction (empty: derived from the seeds, e.g. 'Classify the "
        "text as one of: …').",
    )
    examples: int = Field(3, ge=1, le=10, description="Labelled examples shown per item.")
    inputs_per_item: int = Field(5, ge=1, le=32, description="New inputs per item (GEN×n).")
    input_temperature: float = Field(1.0, ge=0.0, le=2.0, description="Higher: varied inputs.")
    output_temperature: float = Field(0.3, ge=0.0, le=2.0, description="Lower: steady outputs.")
    length_factor: float = Field(
        2.0, ge=1.0, le=20.0, description="k: outputs within [min / k, max × k] demo words."
    )
    noise_terms: list[str] = Field(
        default_factory=lambda: list(NOISE),
        description="Inputs or outputs containing one of these (any case) drop.",
    )
    noise_openers: list[str] = Field(
        default_factory=lambda: list(OPENERS),
        description="Inputs or outputs with a line that starts with one of these drop.",
    )
    max_tokens: int = Field(256, ge=16, le=4096, description="Per input and per output.")


def pair_of(seed: SeedRow) -> tuple[str, str]:
    """A seed as (input, output): a labelled text and its label, or an instruction instance."""
    payload = seed.payload
    if seed.kind == "labelled":
        text_b = payload.get("text_b")
        text = f"{payload['text']}\n{text_b}" if text_b else str(payload["text"])
        return text, str(payload["label"])
    instance = (payload.get("instances") or [{}])[0]
    return str(instance.get("input") or payload.get("instruction") or ""), str(
        instance.get("output") or ""
    )


def reply_text(text: str) -> str:
    """A reply without a leading field label ("Input:", "Output:") or wrapping quotes."""
    text = text.strip()
    for lead in _LEADS:
        if text.lower().startswith(lead):
            text = text[len(lead) :].strip()
            break
    return text.strip(_WRAP).strip()


def noisy(text: str, terms: Sequence[str], openers: Sequence[str] = ()) -> str | None:
    """The first noise term in the text, or opener at the start of a line (any case); None."""
    low = text.lower()
    found = next((t for t in terms if t and t.lower() in low), None)
    lines = [line.strip() for line in low.splitlines()]
    return found or next(
        (o for o in openers if o and any(line.startswith(o.lower()) for line in lines)), None
    )


def label_in(text: str, labels: list[str]) -> str | None:
    """The label the output names, compared loosely (case, end punctuation); else None."""
    said = text.strip().strip(_WRAP).rstrip(".!").strip().lower()
    return next((label for label in labels if label.lower() == said), None)


@kit.register
class SelfGuide(kit.Recipe[Params]):
    meta = kit.Meta(
        "self_guide", "SELF-GUIDE", entry=25, version="1", output="classification+sft",
        section="other", inputs=frozenset({"labelled", "instruction"}), roles=(kit.POLICY,),
        summary="The model writes new inputs for a task from a few examples, answers them "
        "itself, and keeps the pairs that pass noise, length and label filters.",
        yield_per_item=3.0,
        needs=(kit.Need("N", "several inputs per request", "single requests in parallel "
                        "(automatic)"),),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "examples", "3 labelled examples from the seeds."),
        Step("GEN", "new_inputs", "n new inputs from the instruction and examples (T 1.0)."),
        Step("CHECK", "inputs", "Empty or noisy inputs drop."),
        Step("DEDUP-L", "inputs", "No copies of seed inputs or earlier inputs."),
        Step("GEN", "output", "An output per input from the demonstrations (T 0.3)."),
        Step("CHECK", "noise", "Template artifacts, role tags, meta-comments drop."),
        Step("CHECK", "length", "Outputs within the demos' length range × k; in the label set."),
        Step("FMT", "rows", "Classification rows or SFT pairs, until the target."),
    )
    deviations = (
        "Prompt wording and the noise-term list are ours; the temperatures (1.0 for inputs, "
        "0.3 for outputs) and k = 2 for the length range are our settings.",
        "Lengths are counted in whitespace-separated words over the examples shown in the item.",
        "New inputs are written from seed examples only; the paper also samples earlier "
        "generated inputs as examples.",
        "Inputs are deduplicated exactly (copies of seeds or earlier inputs), an added check.",
        "Fine-tuning the same model on the rows (the method's consumer) is downstream.",
    )

    @classmethod
    def check_start(cls, params: Any, seed_set: Any | None) -> None:
        kinds = set(getattr(seed_set, "kinds", None) or [])
        if params.output_type == "classification" and kinds and "labelled" not in kinds:
            raise ValueError("SELF-GUIDE makes classification rows from labelled seeds only.")

    async def setup(self, run: Any) -> None:
        p = run.params
        labelled = [s for s in run.seeds if s.kind == "labelled"]
        self.kind = p.output_type
        if self.kind == "auto":  # classification rows for labelled seeds, else SFT pairs
            self.kind = "sft"
            if labelled:
                self.kind = "classification"
        if self.kind == "classification" and not labelled:
            raise ValueError("SELF-GUIDE makes classification rows from labelled seeds only.")
        self.pool = labelled or [s for s in run.seeds if all(pair_of(s))]
        if not self.pool:
            raise ValueError("SELF-GUIDE needs seeds with an input and an output.")
        self.labels = label_space(labelled) if self.kind == "classification" else []
        self.instruction = p.instruction.strip() or self.default_instruction(run.seeds)
        run.rouge_pool("inputs", EXACT, [pair_of(s)[0] for s in run.seeds], k=1)

    def default_instruction(self, seeds: list[SeedRow]) -> str:
        if self.labels:
            return f"Classify the text as one of: {', '.join(self.labels)}."
        common = Counter(str(s.payload.get("instruction") or "") for s in seeds).most_common(1)
        if common and common[0][0] and common[0][1] > 1:
            return common[0][0]
        return "Write the output for the input, as in the examples."

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("sgd")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        shown = [pair_of(s) for s in await it.sample(self.pool, p.examples)]
        choices = f"Answer with one of: {', '.join(self.labels)}." if self.labels else ""
        made = await it.gen(
            "new_inputs", instruction=self.instruction, choices=choices, n=p.inputs_per_item,
            examples="\n\n".join(f"Input: {x}" for x, _ in shown),
            temperature=p.input_temperature, max_tokens=p.max_tokens,
        )  # fmt: skip
        inputs = []
        for reply in made.texts:
            text = reply_text(reply)
            reason = "empty_input" if not text else ""
            if text and noisy(text, p.noise_terms, p.noise_openers):
                reason = "noisy_input"
            if not reason and not (await it.dedup_l("inputs", text)).novel:
                reason = "duplicate_input"
            if reason:
                it.count(reason)
            else:
                inputs.append(text)
        it.check(bool(inputs), "no_new_input")
        demos = "\n\n".join(f"Input: {x}\nOutput: {y}" for x, y in shown)
        answers = []
        for x in inputs:  # one at a time: other items keep the endpoint busy
            answers.append(
                await it.gen("output", instruction=self.instruction, choices=choices, input=x,
                             demonstrations=demos, temperature=p.output_temperature,
                             max_tokens=p.max_tokens)
            )  # fmt: skip
        lengths = [len(y.split()) for _, y in shown]
        window = (math.ceil(min(lengths) / p.length_factor), max(lengths) * p.length_factor)
        rows = []
        for j, (x, answer) in enumerate(zip(inputs, answers, strict=True)):
            output, reason = self.checked(reply_text(answer.text), answer.truncated, window, p)
            if reason:
                it.count(reason)
                continue
            meta = {"instruction": self.instruction, "raw_output": answer.text[:2000],
                    "length_window": list(window)}  # fmt: skip
            opts: dict[str, Any] = {"suffix": str(j), "step": "output",
                                    "prompt_version": answer.version}  # fmt: skip
            if self.kind == "classification":
                extra = {"labels": list(self.labels), "metadata": meta}
                rows.append(fmt.classification(x, output, extra=extra, **opts))
            else:
                prompt = f"{self.instruction}\n\n{x}"
                rows.append(fmt.sft(prompt, output, extra={"metadata": meta}, **opts))
        it.check(bool(rows), "no_usable_output")
        return rows

    def checked(
        self, text: str, truncated: bool, window: tuple[int, float], p: Params
    ) -> tuple[str, str]:
        """(the output, or the label it names; why it drops, or ""), in the row's order:
        noise, then length, then the label set."""
        words = len(text.split())
        if not text:
            return text, "empty_output"
        if noisy(text, p.noise_terms, p.noise_openers):
            return text, "noise"
        if truncated or words > window[1]:
            return text, "too_long"
        if words < window[0]:
            return text, "too_short"
        if self.labels:
            label = label_in(text, self.labels)
            return (label, "") if label else (text, "not_a_label")
        return text, ""

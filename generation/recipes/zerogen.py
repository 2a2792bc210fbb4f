"""ZeroGen (METHODS.md #8): label-conditioned texts from a task template, per generated context.

① GEN a context C (a movie title, ≤ 10 words) → ② per label, GEN×n continuations of the
task template for (C, label), top-p 0.9 → ③ CHECK the text ends (closing quote, newline or
sentence) and has 10-40 words; DEDUP-L exact → ④ optionally SuperGen's logprob ranking
(top k per label) → ⑤ FMT {C, X, Y} classification rows. Self-BLEU measures diversity: of
the item's texts in each row's metadata, of the whole run in `zerogen_diversity`. The
tiny task model that ZeroGen trains on the rows is downstream.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kit import fmt, ranking
from generation.recipes.kit.parse import without_echo
from generation.recipes.kit.pools import EXACT
from generation.recipes.kit.results import Gen
from generation.recipes.kit.seeds import label_space
from generation.recipes.zerogen_diversity import LIMIT, run_self_bleu, self_bleu

TASK = 'The movie review in {{label}} sentiment for movie "{{context}}" is: "'
_PLACEHOLDER = re.compile(r"\{\{\s*(label|context)\s*\}\}")
_CLOSE = re.compile(r"[\"“”]")
_WRAP = "\"'“”*`"


class Params(RecipeParams):
    labels: list[str] = Field(
        default_factory=list, description="Label names; empty: the labelled seed set's labels."
    )
    task_template: str = Field(
        TASK,
        min_length=8,
        max_length=2000,
        description="The label-conditioned prompt the text continues: {{label}}, {{context}}.",
    )
    context_prompt: str = Field(
        "Name one movie, real or made up. Reply with its title only.",
        max_length=2000,
        description="Asks for a context C (a movie title); empty: no context stage.",
    )
    samples: int = Field(32, ge=1, le=128, description="Texts per (context, label) (GEN×n).")
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0, description="Nucleus sampling (top-k off).")
    max_tokens: int = Field(64, ge=16, le=512, description="API cap on a text's tokens.")
    min_words: int = Field(10, ge=1, le=200, description="Shorter texts drop.")
    max_words: int = Field(40, ge=1, le=400, description="Longer texts drop.")
    context_max_words: int = Field(10, ge=1, le=50, description="Longer contexts drop.")
    api: Literal["chat", "auto", "completions"] = Field(
        "chat",
        description="chat: the template inside a continue-this wrapper; completions/auto: "
        "the template alone as plain text (auto falls back to chat).",
    )
    rank: bool = Field(False, description="SuperGen's logprob ranking: keep the top k per label.")
    keep: int = Field(8, ge=1, le=128, description="With rank: texts kept per label.")

    @field_validator("task_template")
    @classmethod
    def _has_label(cls, value: str) -> str:
        if "{{label}}" not in value.replace(" ", ""):
            raise ValueError("the task template needs a {{label}} placeholder")
        return value


def task_prompt(template: str, label: str, context: str) -> str:
    """The task template with label and context put in (plain substitution, as data)."""
    values = {"label": label, "context": context}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def first_line(text: str) -> str:
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    return line.strip().strip(_WRAP).strip().rstrip(".").strip()


def text_of(reply: str, truncated: bool, prompt: str = "") -> str | None:
    """The reference's cut: up to the closing quote, else the first line, else the last full
    sentence. A cut-off reply with none of them has no end (None). An echo of the end of the
    prompt is cut first."""
    text = without_echo(reply.strip(), prompt).strip().lstrip(_WRAP).strip()
    if _CLOSE.search(text):
        return _CLOSE.split(text, maxsplit=1)[0].strip()
    if "\n" in text:
        return text.split("\n", 1)[0].strip()
    if truncated:
        return text[: text.rindex(".") + 1].strip() if "." in text else None
    return text


NO_LABELS = "ZeroGen needs label names: set labels or choose a labelled seed set."


@kit.register
class ZeroGen(kit.Recipe[Params]):
    meta = kit.Meta(
        "zerogen", "ZeroGen", entry=8, version="1", output="classification",
        section="distillation", inputs=frozenset({"labelled"}), needs_seed_set=False,
        roles=(kit.POLICY,), yield_per_item=32.0,
        summary="Texts for every label from a label-conditioned task template, per generated "
        "context (e.g. a movie title); length checks, exact dedup, Self-BLEU.",
        needs=(
            kit.Need("N", "32 texts per context and label", "single requests in parallel "
                     "(automatic)"),
            kit.Need("LP", "rank=true: SuperGen's logprob ranking", "rank=false, or texts "
                     "kept unranked (counted)", when=lambda p: p.rank),
        ),
    )  # fmt: skip
    steps = (
        Step("GEN", "context", "A context C (a movie title), at most 10 words."),
        Step("DEDUP-L", "contexts", "No context twice in a run."),
        Step("GEN", "generate", "Per label: n continuations of the task template, top-p 0.9."),
        Step("CHECK", "length", "The text ends (quote, line, sentence); 10-40 words; not C."),
        Step("DEDUP-L", "exact", "No text twice in a run."),
        Step("FMT", "classification", "{C, X, Y}: text, label, context; Self-BLEU."),
    )
    deviations = (
        "A chat/instruct model continues the task template inside our wrapper prompt (api=chat); "
        "api=completions sends the template alone as in the paper (a PLM, GPT-2 XL).",
        "Contexts come from an instruction (context_prompt, ours) instead of the PLM "
        "continuing an open quote after Movie:.",
        "Lengths are counted in whitespace-separated words (the reference counts its minimum "
        "the same way; its maximum is 40 model tokens): 10-40 words, and max_tokens caps the "
        "call.",
        "Exact dedup is over the text across the whole run and all labels (the reference "
        "removes identical (C, X, Y) entries per batch).",
        "Self-debiasing across labels (for NLI, decay 200) is not implemented: it reweights "
        "next-token distributions during decoding, which an OpenAI-compatible API does not "
        "expose. The QA variant (SQuAD-style) is not implemented.",
        "rank=true adds SuperGen's logprob ranking (top k per label per context); without "
        "logprobs the texts stay unranked and are counted.",
        "Training the tiny task model on the rows is downstream.",
    )

    @classmethod
    def report(cls, run: Any) -> dict[str, Any]:
        value = run_self_bleu(run.pk)
        return {
            "self_bleu": round(value, 4) if value is not None else None,
            "self_bleu_of": f"BLEU-4 of each text against the others; the run's first {LIMIT}",
        }

    @classmethod
    def check_start(cls, params: Any, seed_set: Any | None) -> None:
        if not params.labels and seed_set is None:
            raise ValueError(NO_LABELS)

    async def setup(self, run: Any) -> None:
        self.labels = list(dict.fromkeys(run.params.labels)) or label_space(run.seeds)
        if not self.labels:
            raise ValueError(NO_LABELS)
        run.rouge_pool("contexts", EXACT, k=1)
        run.rouge_pool("texts", EXACT, k=1)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("zg")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        context = await self.context(it) if p.context_prompt.strip() else ""
        chat = p.api == "chat"
        prompts = [task_prompt(p.task_template, label, context) for label in self.labels]
        ask: dict[str, Any] = {"temperature": p.temperature, "top_p": p.top_p, "api": p.api}
        ask |= {"max_tokens": p.max_tokens, "logprobs": p.rank}
        gens: list[Gen] = []
        kept: list[list[tuple[ranking.Ranked, str]]] = []
        for q in prompts:  # one label at a time; the endpoint is kept busy by other items
            gens.append(
                await it.gen("generate" if chat else "generate_plain", task=q, n=p.samples, **ask)
            )
            kept.append(await self.texts(it, gens[-1], context, q))
        it.check(any(kept), "no_usable_text")
        diversity = self_bleu([t for k in kept for _, t in k])
        rows = []
        for j in range(max(len(k) for k in kept)):
            for li, label in enumerate(self.labels):
                if j < len(kept[li]):
                    r, text = kept[li][j]
                    meta = {"context": context, "task_prompt": prompts[li], "batch_self_bleu":
                            diversity, "score_source": r.source}  # fmt: skip
                    extra = {"labels": list(self.labels), "context": context, "metadata": meta}
                    rows.append(fmt.classification(
                        text, label, suffix=f"{li}.{j}", step="generate", extra=extra,
                        prompt_version=gens[li].version, judge_score=r.score,
                        judgements=ranking.judgement(r, gens[li]),
                    ))  # fmt: skip
        return rows

    async def context(self, it: kit.Item[Params]) -> str:
        p = it.params
        made = await it.gen(
            "context", context_prompt=p.context_prompt, api=p.api, temperature=p.temperature,
            top_p=p.top_p, max_tokens=32,
        )  # fmt: skip
        context = first_line(made.text)
        it.check(bool(context), "empty_context")
        it.check(len(context.split()) <= p.context_max_words, "context_too_long")
        novelty = await it.dedup_l("contexts", context)
        it.check(novelty.novel, "duplicate_context", context)
        return context

    async def texts(
        self, it: kit.Item[Params], gen: Gen, context: str, prompt: str
    ) -> list[tuple[ranking.Ranked, str]]:
        """The usable, new texts of one label's batch (the top k of them with rank)."""
        p = it.params
        texts: list[str] = []
        among: list[int] = []
        for i, reply in enumerate(gen.texts):
            text = text_of(reply, gen.finish_reasons[i] == "length", prompt)
            words = len(text.split()) if text else 0
            reason = (
                "no_end" if text is None
                else "too_short" if words < p.min_words
                else "too_long" if words > p.max_words
                else "copies_context" if context and text.lower() == context.lower()
                else ""
            )  # fmt: skip
            texts.append(text or "")
            if reason:
                it.count(reason)
            else:
                among.append(i)
        method: ranking.Method = "logprobs"
        if not p.rank:
            method = "keep"
        ranked = await ranking.rank(it, gen, among=among, method=method, fallback="keep")
        return await ranking.first_new(it, "texts", ranked, texts, p.keep if p.rank else None)

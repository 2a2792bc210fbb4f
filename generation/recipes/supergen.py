"""SuperGen (METHODS.md #7): label-descriptive prompts, ranked by generation log-probability.

① SAMPLE a first sentence from the corpus (pair tasks only) → ② GEN×n continuations per
label under its label-descriptive prompt (low temperature, presence penalty, a length cap)
→ ③ score each by its mean token logprob → ④ keep the top k per label → ⑤ FMT
classification rows. One work item is one round over every label: ranking happens inside
the item, and every label keeps the same number of rows, so the output is exactly ranked
and balanced. Training the classifier (label smoothing, temporal ensembling) is downstream.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt, ranking
from generation.recipes.kit.parse import without_echo
from generation.recipes.kit.pools import EXACT
from generation.recipes.kit.results import Gen
from generation.recipes.kit.seeds import label_space

# The reference code's prompts; "Reviews" is CTRL's control code for SST-2 (kept as text).
# A pair task's prompt puts the sampled first sentence where {{text_a}} stands.
LABEL_PROMPTS = {
    "positive": "Reviews Rating: 5.0",
    "negative": "Reviews Rating: 1.0",
    "entailment": "{{text_a}} In other words,",
    "neutral": "{{text_a}} Furthermore,",
    "contradiction": "There is a rumor that {{text_a}} However, the truth is:",
    "not_entailment": "{{text_a}} Furthermore,",
}
TEXT_A = "{{text_a}}"


class Params(RecipeParams):
    label_prompts: dict[str, str] = Field(
        default_factory=lambda: dict(LABEL_PROMPTS),
        description="Label → label-descriptive prompt that the text continues. {{text_a}} "
        "stands for the first sentence of a pair task. Labels without one get a generic "
        "prompt (the label_prompt template).",
    )
    generations: int = Field(
        16, ge=2, le=128, description="Generations per label in one item (GEN×n)."
    )
    keep: int = Field(4, ge=1, le=64, description="Top generations kept per label per item.")
    temperature: float = Field(0.2, ge=0.0, le=2.0, description="Low, as in the paper (0-0.2).")
    presence_penalty: float = Field(
        0.5, ge=-2.0, le=2.0, description="Repetition control (the API's presence penalty)."
    )
    max_tokens: int = Field(64, ge=16, le=256, description="Length cap; cut-off texts drop.")
    min_words: int = Field(4, ge=1, le=100, description="Shorter texts drop.")
    ranking: Literal["logprobs", "judge", "keep"] = Field(
        "logprobs", description="Rank by mean token logprob, by an LLM judge, or not at all."
    )
    no_logprobs: Literal["judge", "keep"] = Field(
        "judge", description="When the endpoint returns no logprobs: judge, or keep unranked."
    )
    openings: list[str] = Field(
        default_factory=list,
        description="Words a text starts with, one drawn per item (the reference's SST-2 "
        'list: "The movie", "The film", …); empty: none.',
    )
    first_sentences: list[str] = Field(
        default_factory=list,
        description="Pair tasks: the corpus of first sentences (empty: the seeds' texts).",
    )

    @model_validator(mode="after")
    def _keep_within_generations(self) -> Params:
        if self.keep > self.generations:
            raise ValueError("keep must not exceed generations")
        return self


def continuation(text: str, prompt: str) -> str:
    """The generated text alone: one line, without an echoed prompt or wrapping quotes."""
    text = without_echo(" ".join(text.split()), prompt)
    return text.strip().strip("\"'“”").strip()


def opened(text: str, opening: str) -> str:
    """The text with its opening words (the model continues after them, or repeats them)."""
    if not opening or not text or text.lower().startswith(opening.lower()):
        return text
    return f"{opening} {text}"


@kit.register
class SuperGen(kit.Recipe[Params]):
    meta = kit.Meta(
        "supergen", "SuperGen", entry=7, version="1", output="classification",
        section="distillation", inputs=frozenset({"labelled"}), roles=(kit.POLICY, kit.JUDGE),
        summary="Texts for each label from label-descriptive prompts, ranked by mean token "
        "logprob; the top k per label are kept.", yield_per_item=8.0,
        needs=(
            kit.Need("N", "n generations per label per item", "single requests in parallel "
                     "(automatic)"),
            kit.Need("LP", "rank generations by mean token logprob", "an LLM judge scores "
                     "label fit (ranking=judge), or no ranking (ranking=keep)",
                     when=lambda p: p.ranking == "logprobs"),
        ),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "first_sentence", "Pair tasks: a first sentence from the corpus."),
        Step("SAMPLE", "opening", "Optionally, the words the texts start with."),
        Step("GEN", "generate", "n continuations per label, temperature 0.2, presence penalty."),
        Step("CHECK", "length", "Cut-off (max tokens), short and repeated texts drop."),
        Step("JUDGE", "mean_logprob", "Score each by mean token logprob (judge if none)."),
        Step("DEDUP-L", "exact", "No text twice in a run."),
        Step("FMT", "classification", "Top k per label, the same number for every label."),
    )
    deviations = (
        "A chat/instruct model continues the label prompt (through our wrapper prompt) "
        "instead of the pretrained CTRL model; the default prompts keep CTRL's control code "
        "as text.",
        "Ranking is per item: each item generates n texts per label and keeps the top k per "
        "label (the paper ranks all 20-30k generations of a label and keeps the top 6,000 "
        "overall). Every label keeps as many rows as the scarcest label of the item.",
        "Repetition control is the API's presence penalty (0.5, our choice) instead of "
        "CTRL's repetition penalty 1.2; the repetition reward for pair tasks is not available.",
        "Pair tasks share one sampled first sentence over the item's labels; the corpus is the "
        "seeds' texts (or first_sentences), not a pretraining corpus.",
        "Without logprobs an LLM judge scores label fit 1-5 (our prompt), or the texts stay "
        "unranked and are counted. Texts cut off at max_tokens drop, like the reference's "
        "drop of texts without a stop token; a minimum of 4 words and exact dedup are ours.",
        "Training the classifier (label smoothing, temporal ensembling) is downstream.",
    )

    async def setup(self, run: Any) -> None:
        self.labels = label_space(run.seeds)
        if not self.labels:
            raise ValueError("SuperGen needs labelled seeds: no seed has a label.")
        self.pair = any(s.payload.get("text_b") for s in run.seeds)
        self.corpus: list[SeedRow | str] = list(run.params.first_sentences) or list(run.seeds)
        run.rouge_pool("texts", EXACT, k=1)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("sg")

    def prompt_for(self, it: kit.Item[Params], label: str, text_a: str) -> str:
        prompts = {k.lower(): v for k, v in it.params.label_prompts.items()}
        given = it.params.label_prompts.get(label) or prompts.get(label.lower())
        prompt = given or it.host.prompts["label_prompt"].render(label=label)
        if not self.pair:
            return " ".join(prompt.replace(TEXT_A, "").split())
        return prompt.replace(TEXT_A, text_a) if TEXT_A in prompt else f"{text_a} {prompt}"

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        text_a = ""
        if self.pair:
            (first,) = await it.sample(self.corpus, 1)
            text_a = first.payload["text"] if isinstance(first, SeedRow) else str(first)
        opening = ""
        if p.openings:
            (opening,) = await it.sample(p.openings, 1)
        prompts = [
            f"{self.prompt_for(it, label, text_a)} {opening}".strip() for label in self.labels
        ]
        ask: dict[str, Any] = {"temperature": p.temperature, "max_tokens": p.max_tokens}
        ask |= {"presence_penalty": p.presence_penalty, "logprobs": p.ranking == "logprobs"}
        gens: list[Gen] = []
        kept: list[list[tuple[ranking.Ranked, str]]] = []
        for label, prompt in zip(self.labels, prompts, strict=True):  # one label at a time
            gen = await it.gen("generate", prompt=prompt, n=p.generations, **ask)
            texts = [opened(continuation(t, prompt), opening) for t in gen.texts]
            among = self.candidates(it, gen, texts, text_a)
            ranked = await ranking.rank(
                it, gen, among=among, method=p.ranking, fallback=p.no_logprobs,
                judge="label_fit", label=label, max_tokens=256,
            )  # fmt: skip
            gens.append(gen)
            kept.append(await ranking.first_new(it, "texts", ranked, texts, p.keep))
        m = min(len(k) for k in kept)
        it.check(m > 0, "no_new_text", f"kept per label: {[len(k) for k in kept]}")
        it.count("cut_for_balance", sum(len(k) - m for k in kept))
        rows = []
        for j in range(m):
            for li, label in enumerate(self.labels):
                r, text = kept[li][j]
                rows.append(self.row(it, label, prompts[li], gens[li], r, text, text_a, j))
        return rows

    def candidates(
        self, it: kit.Item[Params], gen: Gen, texts: list[str], text_a: str
    ) -> list[int]:
        """Choices that pass the checks: not cut off, long enough, not repeated in the batch."""
        seen: set[str] = {text_a.lower()} if text_a else set()
        among = []
        for i, text in enumerate(texts):
            if gen.finish_reasons[i] == "length":
                it.count("cut_off")
            elif len(text.split()) < it.params.min_words:
                it.count("too_short")
            elif text.lower() in seen:
                it.count("repeated_in_batch")
            else:
                seen.add(text.lower())
                among.append(i)
        return among

    def row(
        self, it: kit.Item[Params], label: str, prompt: str, gen: Gen, r: ranking.Ranked,
        text: str, text_a: str, j: int,
    ) -> kit.Piece:  # fmt: skip
        extra = {
            "labels": list(self.labels),
            "score": r.score,
            "metadata": {"label_prompt": prompt, "score_source": r.source, "rank": j + 1,
                         "generations": len(gen.texts)},
        }  # fmt: skip
        text, text_b = (text_a, text) if self.pair else (text, None)
        return fmt.classification(
            text, label, text_b=text_b, suffix=f"{self.labels.index(label)}.{j}", step="rank",
            prompt_version=gen.version, judge_score=r.score, extra=extra,
            judgements=ranking.judgement(r, gen),
        )  # fmt: skip

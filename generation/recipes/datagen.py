"""DataGen (METHODS.md #28): described, attribute-guided, checked dataset generation.

① GEN an attribute list with values from the dataset description and examples (once per
run, kept in the run's state; or given as a param with weights: the requested mix) →
② SAMPLE one combination per item (kit/attributes.py) and GEN an item under it → optional
difficulty enhancement → ③ DEDUP-E against the examples and the run's items (local MiniLM;
DEDUP-L where it cannot load) → ④ verify: math labels by an arithmetic check of the model's
calculation (fix, flag or drop), factual claims against retrieved document passages (RET,
kit/retrieval.py), JUDGE self-reflection and the user's constraints → ⑤ FMT as SFT, QA or
classification rows.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from generation.llm import LLMError
from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step
from generation.recipes.datagen_arith import evaluate, expression_in
from generation.recipes.datagen_items import (
    FORMS,
    constraint_list,
    example,
    label_list,
    read_attributes,
    read_item,
    write_item,
)
from generation.recipes.kit import answers, fmt, retrieval
from generation.recipes.kit import attributes as attrs
from generation.recipes.kit.seeds import label_space

DESCRIPTION = (
    "Short, self-contained tasks a person might give an AI assistant (writing, rewriting, "
    "summarising, classifying, explaining, planning), each with an excellent response."
)
_VERDICT = re.compile(r"\b(SUPPORTED|CONTRADICTED|UNRELATED)\b", re.IGNORECASE)


class Params(RecipeParams):
    description: str = Field(DESCRIPTION, min_length=1, description="What the dataset is for.")
    output: Literal["sft", "qa", "classification"] = Field(
        "sft", description="sft: instruction → response; qa: question → answer (gold kept); "
        "classification: text → label.",
    )  # fmt: skip
    labels: str = Field("", description="Classification labels, comma-separated (empty: the "
                        "labels of the seed set's labelled seeds).")  # fmt: skip
    attributes: str = Field(
        "", description="The requested mix, e.g. 'topic: sports, cooking; difficulty: easy=3, "
        "hard=1' (a value weighs 1 unless given). Empty: step ① generates them.",
    )  # fmt: skip
    constraints: str = Field("", description="User constraints, one per line or ';'-separated.")
    few_shot: int = Field(3, ge=0, le=10, description="Seed examples shown per item.")
    temperature: float = Field(0.8, ge=0.0, le=2.0)
    max_tokens: int = Field(1024, ge=64, le=8192)
    enhance: bool = Field(False, description="Step ⑤: rewrite each item to be harder.")
    dedup: Literal["embedding", "lexical", "off"] = Field(
        "embedding", description="Group check: cosine (local MiniLM) or ROUGE-L."
    )
    embedding_threshold: float = Field(0.9, gt=0.0, le=1.0, description="Cosine at which "
                                       "an item counts as a near copy.")  # fmt: skip
    rouge_threshold: float = Field(0.7, gt=0.0, le=1.0, description="ROUGE-L above which "
                                   "an item counts as a near copy (lexical).")  # fmt: skip
    math_check: Literal["fix", "flag", "drop", "off"] = Field(
        "fix", description="QA items with a numeric answer: check it against the value of "
        "the model's arithmetic expression; fix, flag or drop a wrong label.",
    )  # fmt: skip
    fact_check: bool = Field(True, description="Check items against retrieved passages of the "
                             "seed set's documents (only when it has some).")  # fmt: skip
    retrieval_k: int = Field(3, ge=1, le=10, description="Passages retrieved per item.")
    min_quality: float = Field(3.0, ge=0.0, le=5.0, description="Self-reflection score kept.")

    @field_validator("attributes")
    @classmethod
    def _mix_reads(cls, value: str) -> str:
        attrs.parse(value)  # raises with a message for the form
        return value


@kit.register
class DataGen(kit.Recipe[Params]):
    meta = kit.Meta(
        "datagen", "DataGen", entry=28, version="1", output="sft+classification",
        section="other", inputs=frozenset({"instruction", "qa", "labelled", "document"}),
        summary="Generate items from a dataset description under sampled attribute "
        "combinations; drop near copies; verify math labels, facts and constraints.",
        roles=(kit.POLICY, kit.JUDGE),
        needs=(kit.Need("SBX", "DataGen runs model-written code to check math labels",
                        "not used yet: an AST arithmetic evaluator checks the model's "
                        "calculation instead"),
               kit.Need("EMB", "DEDUP-E within and between items",
                        "met by Seedbed's local embedder; ROUGE-L if it cannot load"),
               kit.Need("RET", "retrieval to verify factual claims",
                        "BM25 over the seed set's document seeds (none: no fact check)",
                        role="judge")),
    )  # fmt: skip
    steps = (
        Step("GEN", "attributes", "Once per run: attributes and values (or the param's mix)."),
        Step("SAMPLE", "combination", "One value per attribute, spread to follow the mix."),
        Step("GEN", "generate", "One item from the description, examples and attributes."),
        Step("GEN", "harder", "Optional: a harder version of the item."),
        Step("DEDUP-E", "near_copy", "Cosine ≥ 0.9 to an example or earlier item drops it."),
        Step("GEN", "calculation", "QA with a numeric answer: one arithmetic expression."),
        Step("CHECK", "math_label", "Its exact value vs the label: fix, flag or drop."),
        Step("JUDGE", "fact_check", "Passages retrieved from the documents; contradicted drops."),
        Step("JUDGE", "reflect", "Self-reflection 1-5; below 3 drops."),
        Step("JUDGE", "constraints", "Every user constraint met (when there are any)."),
        Step("FMT", "item", "SFT, QA or classification, with attributes and checks in extra."),
    )
    deviations = (
        "Math labels are checked by evaluating one arithmetic expression the model writes, "
        "on Python's AST (exact fractions, no code run), instead of executing model-written "
        "Python: the sandbox (SBX) arrives later.",
        "One item per call, not a batch; the group check compares each item with the examples "
        "and all earlier items of the run (DEDUP-E on the kit's local MiniLM, whatever the "
        "endpoint serves), and there is no separate batch-diversity score. Where the local "
        "embedder cannot load, the check falls back to ROUGE-L.",
        "Retrieval is BM25 over the seed set's own document seeds, not web search; an item "
        "the passages contradict is dropped, one they do not mention is kept (marked).",
        "Self-reflection is a 1-5 judge score (kept at ≥ 3), not a reflect-and-revise loop; "
        "constraints are a separate pass/fail judge.",
        "Difficulty enhancement, when on, runs before the checks, so the harder item is the "
        "one verified. Prompt wording is ours.",
    )

    @classmethod
    def check_start(cls, params: Any, seed_set: Any | None) -> None:
        if params.output != "classification" or len(label_list(params.labels)) >= 2:
            return
        labels = set()
        if seed_set is not None:
            found = seed_set.seeds.filter(kind="labelled").values_list("payload__label", flat=True)
            labels = {str(x) for x in found.distinct()[:2] if x}
        if len(labels) < 2:
            raise ValueError("DataGen classification needs two or more labels (param labels).")

    async def setup(self, run: Any) -> None:
        p: Params = run.params
        self.documents = retrieval.Index.from_seeds(run.seeds)
        self.examples = [s for s in run.seeds if example(s, p.output) is not None]
        seeded = [self.prompt_of(example(s, p.output) or {}, p.output) for s in self.examples]
        self.labels = label_list(p.labels) or label_space(run.seeds)
        if p.output == "classification" and len(self.labels) < 2:
            raise ValueError("DataGen classification needs two or more labels (param labels).")
        self.dedup = p.dedup
        if p.dedup == "embedding":
            try:
                keys = [f"seed:{s.id}" for s in self.examples]
                await run.embedding_pool("items", p.embedding_threshold, keys, seeded)
            except (ImportError, OSError):  # no local embedder: the lexical check stands in
                self.dedup = "lexical"
        if self.dedup == "lexical":
            run.rouge_pool("items", p.rouge_threshold, seeded)
        self.attributes = await self.attribute_set(run, p)

    async def attribute_set(self, run: Any, p: Params) -> list[attrs.Attribute]:
        """Step ①: the param's mix, else the run's generated set, else generate it now."""
        if p.attributes.strip():
            return attrs.parse(p.attributes)
        state = run.state.setdefault("datagen", {})
        if state.get("attributes"):
            return attrs.from_json(state["attributes"])
        shown = "\n\n".join(self.show(s, p.output) for s in self.examples[:5]) or "(none)"
        text = run.prompts["attributes"].render(description=p.description, examples=shown)
        client, model, _ = run.client("policy")
        try:
            done = await client.complete([{"role": "user", "content": text}], purpose="generate",
                                         model=model, temperature=0.7, max_tokens=400)  # fmt: skip
        except LLMError:  # the next slice tries again; until then items drop (no_attributes)
            return []
        found = read_attributes(done.texts[0] if done.texts else "")
        if found:
            state["attributes"] = attrs.to_json(found)
        return found

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("dg")

    def show(self, seed: Any, output: str) -> str:
        return write_item(example(seed, output) or {}, output)

    @staticmethod
    def prompt_of(item: dict[str, str], output: str) -> str:
        return item.get(FORMS[output].labels[0].lower(), "")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        it.check(bool(self.attributes), "no_attributes")
        combination = await attrs.sample(it, self.attributes)
        shown = await it.sample(self.examples, p.few_shot)
        rules = constraint_list(p.constraints)
        labels = f"Labels: {', '.join(self.labels)}\n" if p.output == "classification" else ""
        asked: dict[str, Any] = {
            "description": p.description,
            "form": labels + FORMS[p.output].template(),
        }
        made = await it.gen(
            "generate", **asked, examples="\n\n".join(self.show(s, p.output) for s in shown)
            or "(none)", attributes=attrs.describe(combination),
            constraints="".join(f"- {c}\n" for c in rules), temperature=p.temperature,
            max_tokens=p.max_tokens,
        )  # fmt: skip
        item = read_item(made.text, p.output)
        if item is None or made.truncated:
            raise kit.Drop("unparsable_item")
        extra: dict[str, Any] = {"metadata": {"attributes": combination, "format": p.output,
                                              "constraints": rules}}  # fmt: skip
        if p.enhance:
            harder = await it.gen("harder", **asked, item=write_item(item, p.output),
                                  temperature=p.temperature, max_tokens=p.max_tokens)  # fmt: skip
            better = read_item(harder.text, p.output)
            if better is None or harder.truncated:
                it.count("enhance_unparsable")
            else:
                extra["enhanced_from"], item = write_item(item, p.output), better
        if p.output == "classification":
            it.check(item["label"].strip() in self.labels, "unknown_label", item["label"][:200])
        await self.group_check(it, self.prompt_of(item, p.output), extra)
        if p.output == "qa" and p.math_check != "off":
            item = await self.check_math(it, item, extra)
        await self.check_facts(it, item, extra)
        return await self.judged(it, item, rules, extra, combination)

    async def group_check(self, it: kit.Item[Params], text: str, extra: dict[str, Any]) -> None:
        if self.dedup == "off":
            return
        step = it.dedup_e if self.dedup == "embedding" else it.dedup_l
        near = await step("items", text)
        it.check(near.novel, "near_duplicate", f"{near.score} to {near.nearest}"[:500])
        extra["dedup"] = {"method": self.dedup, "nearest": near.nearest, "score": near.score}

    async def check_math(
        self, it: kit.Item[Params], item: dict[str, str], extra: dict[str, Any]
    ) -> dict[str, str]:
        """The label against the exact value of the model's arithmetic expression."""
        stated = answers.as_number(item["answer"])
        if stated is None:
            return item
        made = await it.gen("calculation", question=item["question"], temperature=0.0,
                            max_tokens=200)  # fmt: skip
        expression = expression_in(made.text)
        value = evaluate(expression) if expression else None
        if value is None:
            it.count("calculation_unusable")
            extra["label_check"] = {"status": "unverified", "reply": made.text[:500]}
            return item
        check = {"expression": expression or "", "computed": answers.show_number(value),
                 "stated": item["answer"]}  # fmt: skip
        if value == stated:
            extra["label_check"] = {**check, "status": "verified"}
            return item
        it.check(it.params.math_check != "drop", "wrong_label", f"{check}")
        if it.params.math_check == "flag":
            extra["label_check"] = {**check, "status": "wrong"}
            return item
        extra["label_check"] = {**check, "status": "fixed", "original_solution":
                                item.get("solution", "")}  # fmt: skip
        worked = f"{expression} = {check['computed']}"
        return {**item, "answer": check["computed"], "solution": worked}

    async def check_facts(
        self, it: kit.Item[Params], item: dict[str, str], extra: dict[str, Any]
    ) -> None:
        """RET: contradicted by the documents' passages → dropped; unmentioned → marked."""
        if not it.params.fact_check or not len(self.documents):
            return
        written = write_item(item, it.params.output)
        found = self.documents.search(written, it.params.retrieval_k)
        if not found:
            extra["retrieval"] = {"verdict": "no_passages", "passages": []}
            return
        verdict = await it.gen("fact_check", role="judge", passages=retrieval.context(found),
                               item=written, temperature=0.0, max_tokens=200)  # fmt: skip
        word = _VERDICT.search(verdict.text)
        if word is None:
            raise kit.Drop("unparsable_fact_check")
        said = word.group(1).lower()
        extra["retrieval"] = {"verdict": said, "passages": [p.cite() for p in found],
                              "reason": verdict.text[:500]}  # fmt: skip
        it.check(said != "contradicted", "contradicted_by_documents", verdict.text[:500])

    async def judged(
        self,
        it: kit.Item[Params],
        item: dict[str, str],
        rules: list[str],
        extra: dict[str, Any],
        combination: dict[str, str],
    ) -> kit.Piece:
        p = it.params
        written = write_item(item, p.output)
        asks = [it.judge("reflect", description=p.description, item=written, max_tokens=300)]
        if rules:
            asks.append(it.judge("constraints", constraints="\n".join(f"- {c}" for c in rules),
                                 item=written, maximum=1.0, max_tokens=300))  # fmt: skip
        verdicts = await asyncio.gather(*asks)
        it.check(all(v.score is not None for v in verdicts), "unjudgeable")
        quality = verdicts[0].score or 0.0
        it.check(quality >= p.min_quality, "low_quality", f"reflection {quality}")
        it.check(len(verdicts) < 2 or verdicts[1].score == 1.0, "breaks_constraints")
        extra["tags"] = [f"{k}={v}" for k, v in combination.items()]
        opts: dict[str, Any] = {
            "extra": extra, "step": f"datagen:{p.output}", "judge_score": quality,
            "judgements": [fmt.judgement(n, v)
                           for n, v in zip(("reflect", "constraints"), verdicts, strict=False)],
        }  # fmt: skip
        if p.output == "classification":
            piece = fmt.classification(item["text"], item["label"].strip(), **opts)
            piece.extra["labels"] = list(self.labels)
            return piece
        if p.output == "qa":
            extra["gold"] = item["answer"]
            working = item.get("solution", "")
            reply = f"{working}\nThe answer is: {item['answer']}" if working else item["answer"]
            return fmt.sft(item["question"], reply, **opts)
        return fmt.sft(item["instruction"], item["response"], **opts)

"""AgentInstruct / Orca-AgentInstruct (METHODS.md #52, Mitra et al. 2024, arXiv 2407.03502):
skill-targeted SFT data from raw documents by three agentic flows.

① content transformation: an agent rewrites a seed into a form suited to a skill (an
argument passage, a meeting transcript, …) → ② seed instructions: an agent writes one
instruction per instruction type of the skill (agentinstruct_taxonomy.py) → ③ refinement:
a Suggester proposes ways to make an instruction more complex or ambiguous, an Editor
applies them; each refined variant links to its parent → ④ GEN the responses, searching
the document env first where the skill needs the tool → ⑤ JUDGE (threshold), DEDUP-L on
the instructions → ⑥ FMT: the transformed text as context, in the user turn and in
extra.metadata.context. Not to be confused with AgentTuning's dataset of the same name (#53).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from pydantic import Field, field_validator

from generation.envs import DocSearchEnv
from generation.recipes import kit
from generation.recipes.agentinstruct_taxonomy import SKILLS, Skill
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.parse import unwrap

SEED_KINDS = frozenset({"document", "text"})


class Params(RecipeParams):
    skills: list[str] = Field(
        default_factory=lambda: list(SKILLS),
        description=f"Skills of the taxonomy to teach, one a line ({', '.join(SKILLS)}); the "
        "run cycles through them.",
    )
    types_per_item: int = Field(
        4, ge=1, le=7, description="Instruction types per transformed text (distinct types)."
    )
    refinements: int = Field(
        1, ge=0, le=3, description="Suggester-Editor rounds per seed instruction (a chain)."
    )
    keep_seed_instructions: bool = Field(
        True, description="Also answer and keep the unrefined seed instructions."
    )
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="For the flows' agents.")
    response_temperature: float = Field(0.2, ge=0.0, le=2.0)
    judge_samples: int = Field(2, ge=1, le=5, description="Judgements averaged per response.")
    min_score: float = Field(3.0, ge=0.0, le=5.0, description="Responses below this drop.")
    novelty_threshold: float = Field(
        0.7, gt=0.0, le=1.0, description="Instructions with ROUGE-L above this vs the pool drop."
    )
    min_words: int = Field(30, ge=5, le=1000, description="Words a transformed text needs.")
    max_tokens: int = Field(1024, ge=64, le=8192, description="Budget of one agent's reply.")

    @field_validator("skills")
    @classmethod
    def _skills(cls, value: list[str]) -> list[str]:
        names = [v.strip() for v in value if v.strip()]
        unknown = [n for n in names if n not in SKILLS]
        if unknown or not names:
            raise ValueError(f"skills are some of {', '.join(SKILLS)}; not {unknown}")
        return names


def seed_text(seed: SeedRow) -> str:
    return str(seed.payload.get("text") or seed.text).strip()


def first_paragraph(text: str) -> str:
    """An instruction as an agent wrote it: unwrapped, up to its first blank line."""
    return re.split(r"\n\s*\n", unwrap(text), maxsplit=1)[0].strip()


def same(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


@kit.register
class AgentInstruct(kit.Recipe[Params]):
    meta = kit.Meta(
        "agentinstruct", "AgentInstruct (Orca-AgentInstruct)", entry=52, version="1",
        output="sft+tool_trajectory", section="agent_flows", inputs=SEED_KINDS,
        roles=(kit.POLICY, kit.JUDGE),
        summary="Agents rewrite a document for a skill, write instructions of each type of "
        "the skill's taxonomy, refine them (Suggester, Editor) and answer them, with search "
        "where the skill needs it.",
        needs=(kit.Need("RET", "the search_qa skill's responses search the documents",
                        "BM25 over the document seeds; without any, no search", when=lambda p:
                        "search_qa" in p.skills),),
        yield_per_item=6.0,
    )  # fmt: skip
    steps = (
        Step("GEN", "transform", "Content transformation: rewrite the seed as a form suited "
             "to the skill (argument passage, meeting transcript, FAQ, …)."),
        Step("CHECK", "content", "The transformed text is complete and long enough."),
        Step("SAMPLE", "types", "Distinct instruction types of the skill's taxonomy."),
        Step("GEN", "instruction", "Seed instruction flow: one instruction per type."),
        Step("GEN", "suggest", "Refinement flow, Suggester: ways to raise complexity or "
             "ambiguity."),
        Step("GEN", "edit", "Refinement flow, Editor: the refined instruction (links to its "
             "parent)."),
        Step("DEDUP-L", "instructions", "Seed instructions: ROUGE-L against the run's; a "
             "refined variant must differ from its parent."),
        Step("ENV", "search", "For a tool skill: search the documents (DocSearchEnv)."),
        Step("GEN", "respond", "The response, given the transformed text (and results)."),
        Step("JUDGE", "judge", "Response quality 1-5, averaged; below min_score drops."),
        Step("FMT", "sft", "Context + instruction → response (a tool trajectory for a tool "
             "skill); context, skill, type, parent in metadata."),
    )  # fmt: skip
    deviations = (
        "The taxonomy is ours and small: three skills (reading comprehension with 7 "
        "instruction types, text modification with 6, search QA with 4) instead of the "
        "paper's 17 skills and 100+ sub-categories.",
        "Each flow's agents are prompts to one model (roles policy and judge), not the "
        "paper's GPT-4 agents with their tools; prompt wording is ours.",
        "Content transformation writes one form per item, picked at random from the skill's "
        "forms (the paper runs many transformation agents per seed).",
        "Tools: only the search_qa skill uses one, a search over the project's documents "
        "(DocSearchEnv) before the response; the paper's code and API tools are left out.",
        "Added filters: a judge threshold on the responses, ROUGE-L dedup of the seed "
        "instructions, and a refined variant that copies its parent is dropped (the paper "
        "does not detail its filtering).",
        "types_per_item (4), refinements (1), judge_samples (2) and min_score (3) are our "
        "defaults; the run cycles through the seeds and, on each pass, the next skill.",
    )

    async def setup(self, run: Any) -> None:
        self.seeds = sorted((s for s in run.seeds if s.kind in SEED_KINDS), key=lambda s: s.id)
        docs = [s for s in self.seeds if s.kind == "document"]
        self.env = DocSearchEnv(docs) if docs else None  # each item searches a copy
        run.rouge_pool("instructions", run.params.novelty_threshold, [])

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("ai")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        it.check(bool(self.seeds), "no_seeds")
        k = int(it.payload)
        seed = self.seeds[k % len(self.seeds)]
        skill = SKILLS[p.skills[(k // len(self.seeds)) % len(p.skills)]]
        it.use_seeds(seed)
        (form,) = await it.sample(skill.forms, 1)
        made = await it.gen("transform", form=form, skill=skill.name.replace("_", " "),
                            skill_description=skill.description, text=seed_text(seed)[:6000],
                            temperature=p.temperature, max_tokens=p.max_tokens)  # fmt: skip
        context = made.text.strip()
        it.check(not made.truncated, "truncated_content")
        it.check(len(context.split()) >= p.min_words, "short_content", context[:200])
        types = await it.sample(sorted(skill.types), p.types_per_item)
        pieces: list[fmt.Piece] = []
        for kind in types:
            pieces += await self._chain(it, skill, kind, form, context, seed)
        it.check(bool(pieces), "no_instruction_kept", ", ".join(sorted(it.counts)))
        return pieces

    async def _chain(
        self, it: kit.Item[Params], skill: Skill, kind: str, form: str, context: str, seed: SeedRow
    ) -> list[fmt.Piece]:
        """One instruction type: the seed instruction and its refined variants, answered."""
        p = it.params
        made = await it.gen("instruction", skill=skill.name.replace("_", " "), type=kind,
                            type_description=skill.types[kind], context=context,
                            temperature=p.temperature, max_tokens=256)  # fmt: skip
        chain = [first_paragraph(made.text)]
        for _ in range(p.refinements):
            suggested = await it.gen("suggest", instruction=chain[-1], context=context,
                                     temperature=p.temperature, max_tokens=384)  # fmt: skip
            edited = await it.gen("edit", instruction=chain[-1], suggestions=suggested.text,
                                  context=context, temperature=p.temperature,
                                  max_tokens=384)  # fmt: skip
            chain.append(first_paragraph(edited.text))
        pieces: list[fmt.Piece] = []
        for depth, instruction in enumerate(chain):
            if len(instruction) < 10:
                it.count("no_instruction")
                break
            if depth == 0:  # a refinement extends its parent: only seeds meet the pool
                novelty = await it.dedup_l("instructions", instruction)
                if not novelty.novel:
                    it.count("duplicate_instruction")
                    break  # a refinement of a copy would be a copy too
            elif " ".join(instruction.lower().split()) == " ".join(
                chain[depth - 1].lower().split()
            ):
                it.count("unrefined_copy")
                break
            if depth == 0 and not p.keep_seed_instructions:
                continue
            meta = {"skill": skill.name, "type": kind, "form": form, "depth": depth,
                    "context": context, "seed_document": seed.payload.get("title", ""),
                    "id": f"{kind}.{depth}"}  # fmt: skip
            if depth:
                meta |= {"parent": f"{kind}.{depth - 1}", "parent_instruction": chain[depth - 1]}
            piece = await self._answer(it, skill, instruction, context, meta)
            if piece is not None:
                pieces.append(piece)
        return pieces

    async def _answer(
        self, it: kit.Item[Params], skill: Skill, instruction: str, context: str,
        meta: dict[str, Any],
    ) -> fmt.Piece | None:  # fmt: skip
        p = it.params
        prompt = f"{context}\n\n{instruction}"
        results, call = "", None
        if skill.tool == "docsearch" and self.env is not None:
            episode = await it.env(copy.copy(self.env), {"question": instruction})
            obs = await episode.step("search", {"query": instruction})
            results = obs.text
            call = {"id": "call_0", "type": "function", "function": {
                "name": "search", "arguments": json.dumps({"query": instruction})}}  # fmt: skip
            meta = meta | {"search": {"query": instruction, "results": results[:1000]}}
        made = await it.gen("respond", context=context, instruction=instruction,
                            results=results or "(no search for this skill)",
                            temperature=p.response_temperature,
                            max_tokens=p.max_tokens)  # fmt: skip
        response = made.text.strip()
        if not response or made.truncated:
            it.count("no_response")
            return None
        judged = await it.judge("judge", samples=p.judge_samples, context=context,
                                instruction=instruction, response=response)  # fmt: skip
        if judged.score is None:
            it.count("unjudged")
            return None
        if judged.score < p.min_score:
            it.count("low_score")
            return None
        depth, kind = meta["depth"], meta["type"]
        opts: dict[str, Any] = {
            "suffix": f"{kind}.{depth}",
            "parent_key": f"{it.key}:{meta['parent']}" if depth else None,
            "step": "respond", "judge_score": judged.score, "prompt_version": made.version,
            "judgements": [fmt.judgement("response quality", judged)],
            "extra": {"metadata": meta, "tags": [skill.name, kind, meta["form"]]},
        }  # fmt: skip
        if call is None:
            return fmt.sft(prompt, response, **opts)
        assert self.env is not None
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_0", "content": results},
            {"role": "assistant", "content": response},
        ]
        return fmt.tool_trajectory(messages, self.env.tools(), **opts)

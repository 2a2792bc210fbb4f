"""The JUDGE primitive: an LLM scores a response; unparsable judgements are dropped.

Used inside recipes (Self-Rewarding) and on its own by the "judge these samples"
action, which writes Judgement rows for any run or selection.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from generation.llm import LLMClient
from generation.recipes.kit.parse import parse_score
from generation.recipes.prompts import PromptTemplate, builtin_templates

ADDITIVE_RUBRIC = "additive_5pt"


@dataclass(frozen=True)
class JudgeResult:
    score: float | None  # mean of the parsable judgements; None when none parsed
    scores: list[float]
    raw: list[str]
    rubric_version: str

    @property
    def rationale(self) -> str:
        return self.raw[0].rsplit("Score", 1)[0].strip() if self.raw else ""


def additive_template() -> PromptTemplate:
    return builtin_templates("judge")[ADDITIVE_RUBRIC]


async def judge_response(
    llm: LLMClient,
    prompt: str,
    response: str,
    *,
    samples: int = 3,
    temperature: float = 0.7,
    template: PromptTemplate | None = None,
    model: str | None = None,
) -> JudgeResult:
    """Score with the additive 5-point rubric, `samples` times, and average what parses."""
    template = template or additive_template()
    text = template.render(prompt=prompt, response=response)
    completion = await llm.complete(
        [{"role": "user", "content": text}],
        purpose="judge",
        n=samples,
        temperature=temperature if samples > 1 else 0.0,
        max_tokens=512,
        model=model,
    )
    scores = [s for s in (parse_score(t) for t in completion.texts) if s is not None]
    return JudgeResult(
        score=statistics.fmean(scores) if scores else None,
        scores=scores,
        raw=completion.texts,
        rubric_version=template.version,
    )

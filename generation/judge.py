"""The JUDGE primitive: an LLM scores a response; unparsable judgements are dropped.

Used inside recipes (Self-Rewarding) and on its own by the "judge these samples"
action, which writes Judgement rows for any run or selection.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from generation.llm import LLMClient
from generation.recipes.prompts import PromptTemplate, builtin_templates

ADDITIVE_RUBRIC = "additive_5pt"
_SCORE_RE = re.compile(r"score\s*[:=]\s*\**\s*([0-5](?:\.\d+)?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeResult:
    score: float | None  # mean of the parsable judgements; None when none parsed
    scores: list[float]
    raw: list[str]
    rubric_version: str

    @property
    def rationale(self) -> str:
        return self.raw[0].rsplit("Score", 1)[0].strip() if self.raw else ""


def parse_score(text: str, maximum: float = 5.0) -> float | None:
    """The last "Score: N" in the text, or None. Out-of-range scores do not parse."""
    matches = _SCORE_RE.findall(text)
    if not matches:
        return None
    value = float(matches[-1])
    return value if 0.0 <= value <= maximum else None


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

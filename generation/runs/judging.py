"""Judging any selection of samples with the additive rubric, outside a run.

Database work stays in the task's own thread; each batch's LLM calls run in a short
asyncio loop between a read and a write.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.db import transaction

from curation.projects.models import LLMCall, ModelEndpoint
from curation.projects.services import endpoint_config
from curation.samples.models import Judgement, Sample
from generation.judge import ADDITIVE_RUBRIC, JudgeResult, judge_response
from generation.limits import endpoint_limits
from generation.llm import CallRecord, LLMClient
from generation.recipes.base import JudgementDraft
from generation.recipes.kit import confidence

BATCH = 32


def prompt_and_response(sample: Sample) -> tuple[str, str]:
    """What to judge: the user turns, and the (chosen) assistant reply."""
    prompt = "\n\n".join(
        str(m.get("content") or "") for m in sample.messages if m.get("role") == "user"
    )
    if sample.kind == "preference" and sample.chosen:
        reply = str(sample.chosen[-1].get("content") or "")
    else:
        replies = [m for m in sample.messages if m.get("role") == "assistant"]
        reply = str(replies[-1].get("content") or "") if replies else ""
    return prompt, reply


def judge_selection(project_id: int, ids: list[int], endpoint_id: int, samples: int) -> int:
    endpoint = ModelEndpoint.objects.get(pk=endpoint_id, project_id=project_id)
    model = endpoint.judge_model or endpoint.chat_model
    judged = 0
    for start in range(0, len(ids), BATCH):
        batch = list(
            Sample.objects.filter(
                project_id=project_id, pk__in=ids[start : start + BATCH]
            ).order_by("id")
        )
        calls: list[CallRecord] = []
        results = asyncio.run(_judge(endpoint, model, batch, samples, calls))
        _store(project_id, batch, results, model, calls)
        judged += sum(1 for r in results if isinstance(r, JudgeResult) and r.score is not None)
    return judged


async def _judge(
    endpoint: ModelEndpoint,
    model: str,
    batch: list[Sample],
    samples: int,
    calls: list[CallRecord],
) -> list[Any]:
    limits = endpoint_limits(endpoint)
    async with LLMClient(endpoint_config(endpoint), recorder=calls.append, limits=limits) as llm:
        # A failed call is recorded as a failed LLMCall; the sample simply stays unjudged.
        return await asyncio.gather(
            *(
                judge_response(llm, *prompt_and_response(s), samples=samples, model=model)
                for s in batch
            ),
            return_exceptions=True,
        )


def _store(
    project_id: int, batch: list[Sample], results: list[Any], model: str, calls: list[CallRecord]
) -> None:
    with transaction.atomic():
        for sample, result in zip(batch, results, strict=True):
            if not isinstance(result, JudgeResult):
                continue
            verdict = JudgementDraft(
                judge_model=model,
                rubric_id=ADDITIVE_RUBRIC,
                rubric_version=result.rubric_version,
                score=result.score,
                rationale=result.rationale[:4000],
                raw_output="\n---\n".join(result.raw),
                confidence=confidence.of_samples(result.scores, 5.0),
            )
            Judgement.objects.update_or_create(
                sample=sample,
                rubric_id=ADDITIVE_RUBRIC,
                work_key=f"judge:{model}",
                defaults=Judgement.fields_from(verdict),
            )
            if result.score is not None:
                Sample.objects.filter(pk=sample.pk).update(
                    judge_score=result.score, judge_confidence=verdict.confidence
                )
        LLMCall.objects.bulk_create([LLMCall.from_record(project_id, c) for c in calls])

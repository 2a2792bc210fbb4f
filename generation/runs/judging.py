"""Judging any selection of samples with the additive rubric, outside a run."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction

from generation.judge import ADDITIVE_RUBRIC, judge_response
from generation.llm import CallRecord, LLMClient
from generation.runs.driver import endpoint_config
from generation.runs.models import Judgement, LLMCall, Sample

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


@sync_to_async
def _load(project_id: int, ids: list[int], endpoint_id: int) -> tuple[list[Sample], Any]:
    from curation.projects.models import ModelEndpoint

    endpoint = ModelEndpoint.objects.get(pk=endpoint_id, project_id=project_id)
    samples = list(Sample.objects.filter(project_id=project_id, pk__in=ids).order_by("id"))
    return samples, endpoint


@sync_to_async
def _store(
    project_id: int, results: list[tuple[Sample, Any, str]], calls: list[CallRecord]
) -> None:
    with transaction.atomic():
        for sample, result, model in results:
            key = f"judge:{ADDITIVE_RUBRIC}:{model}"
            Judgement.objects.update_or_create(
                sample=sample,
                rubric_id=ADDITIVE_RUBRIC,
                work_key=key,
                defaults={
                    "judge_model": model,
                    "rubric_version": result.rubric_version,
                    "score": result.score,
                    "rationale": result.rationale[:4000],
                    "raw_output": "\n---\n".join(result.raw),
                },
            )
            if result.score is not None:
                Sample.objects.filter(pk=sample.pk).update(judge_score=result.score)
        LLMCall.objects.bulk_create(
            [
                LLMCall(
                    project_id=project_id,
                    endpoint_id=c.endpoint_id,
                    model=c.model,
                    purpose=c.purpose,
                    tokens_in=c.tokens_in,
                    tokens_out=c.tokens_out,
                    cost=c.cost,
                    latency_ms=c.latency_ms,
                    attempts=c.attempts,
                    status="ok" if c.ok else "error",
                    error=c.error[:2000],
                )
                for c in calls
            ]
        )


async def judge_selection(project_id: int, ids: list[int], endpoint_id: int, samples: int) -> None:
    rows, endpoint = await _load(project_id, ids, endpoint_id)
    model = endpoint.judge_model or endpoint.chat_model
    calls: list[CallRecord] = []
    async with LLMClient(endpoint_config(endpoint), recorder=calls.append) as llm:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            judged = await asyncio.gather(
                *(
                    judge_response(llm, *prompt_and_response(s), samples=samples, model=model)
                    for s in batch
                ),
                return_exceptions=True,
            )
            done = [
                (s, r, model)
                for s, r in zip(batch, judged, strict=True)
                if not isinstance(r, BaseException)
            ]
            taken, calls[:] = list(calls), []
            await _store(project_id, done, taken)

"""Every call to a model becomes one LLMCall row, built the same way by runs, judging and
dedup (LLMCall.from_record); judgements likewise (Judgement.fields_from)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from curation.projects.models import LLMCall
from curation.samples.models import Judgement
from generation.llm import CallRecord
from generation.recipes.base import JudgementDraft
from tests.factories import RunFactory, SampleFactory

pytestmark = pytest.mark.django_db


def record(**changes: Any) -> CallRecord:
    fields: dict[str, Any] = {
        "endpoint_id": None,
        "model": "m",
        "purpose": "generate",
        "tokens_in": 12,
        "tokens_out": 5,
        "cost": Decimal("0.0012"),
        "latency_ms": 80,
        "attempts": 2,
        "ok": True,
        "error": "",
    }
    return CallRecord(**(fields | changes))


def test_a_call_record_becomes_a_row_of_its_project_and_run(cast: Any) -> None:
    run = RunFactory(project=cast.project)
    call = LLMCall.from_record(cast.project.pk, record(), run_id=run.pk)
    call.save()
    call.refresh_from_db()
    assert (call.project, call.run, call.status) == (cast.project, run, LLMCall.Status.OK)
    assert (call.tokens_in, call.tokens_out, call.attempts) == (12, 5, 2)
    assert call.cost == Decimal("0.0012")


def test_a_failed_call_keeps_the_start_of_its_error(cast: Any) -> None:
    call = LLMCall.from_record(cast.project.pk, record(ok=False, error="x" * 5000))
    assert call.status == LLMCall.Status.ERROR
    assert call.error == "x" * 2000
    assert call.run_id is None


def test_a_judgement_row_holds_what_the_judge_said(cast: Any) -> None:
    sample = SampleFactory(project=cast.project)
    verdict = JudgementDraft("judge-m", "additive_5pt", "v1", 4.0, "Clear.", "Clear. Score: 4")
    row = Judgement.objects.create(sample=sample, **Judgement.fields_from(verdict))
    assert (row.judge_model, row.rubric_id, row.rubric_version) == ("judge-m", "additive_5pt", "v1")
    assert (row.score, row.rationale, row.raw_output) == (4.0, "Clear.", "Clear. Score: 4")

"""The sample API: a project's samples, filtered and paged, and one sample."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router
from ninja.params import functions as param

from curation.api_schema import INT32_MAX, INT64_MAX, NO_NUL
from curation.paging import page_of
from curation.projects.access import object_for, project_for
from curation.samples.models import Sample, SampleStatus, by_decision
from curation.samples.schemas import SampleOut, SamplePage

router = Router(tags=["samples"])


@router.get("/projects/{project_id}/samples", response=SamplePage)
def list_samples(
    request: HttpRequest,
    project_id: int,
    status: str = param.Query("", max_length=32, pattern=NO_NUL, description="A review status."),
    run_id: int | None = param.Query(None, ge=1, le=INT64_MAX),
    decided_by: str = param.Query("", max_length=32, pattern=NO_NUL, description="auto or people."),
    confidence_below: float | None = param.Query(None, ge=0, le=1),
    page: int = param.Query(1, ge=1, le=INT32_MAX),
    page_size: int = param.Query(50, ge=1, le=500),
) -> dict[str, Any]:
    project = project_for(request.user, project_id)
    samples = Sample.objects.filter(project=project)
    if status in SampleStatus.values:
        samples = samples.filter(status=status)
    if run_id is not None:
        samples = samples.filter(run_id=run_id)
    samples = by_decision(samples, decided_by, confidence_below)
    return page_of(samples.order_by("id"), page, page_size)


@router.get("/samples/{sample_id}", response=SampleOut)
def get_sample(request: HttpRequest, sample_id: int) -> Sample:
    return object_for(request.user, Sample.objects.all(), sample_id)

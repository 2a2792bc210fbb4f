"""The sample pages: a project's samples, filtered and paged, and one sample with its lineage."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from curation.http import AuthedRequest
from curation.projects.access import membership_for, object_for
from curation.samples.lineage import lineage_extra
from curation.samples.models import Sample, SampleStatus, by_decision

PAGE_SIZE = 25


@login_required
def sample_list(request: AuthedRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request.user, project_id)
    status = request.GET.get("status", "")
    samples = Sample.objects.filter(project=membership.project).select_related("run")
    if status in SampleStatus.values:
        samples = samples.filter(status=status)
    run_id = request.GET.get("run", "")
    if run_id.isdigit():
        samples = samples.filter(run_id=int(run_id))
    decided_by = request.GET.get("decided_by", "")
    samples = by_decision(samples, decided_by)
    page = Paginator(samples.order_by("-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    template = "samples/list.html"
    if request.htmx:
        template += "#sample-table"
    ctx = {
        "project": membership.project,
        "page": page,
        "status": status,
        "statuses": SampleStatus.choices,
        "decided_by": decided_by if decided_by in ("auto", "people") else "",
    }
    return render(request, template, ctx)


@login_required
def sample_detail(request: AuthedRequest, sample_id: int) -> HttpResponse:
    sample = object_for(
        request.user, Sample.objects.select_related("project", "run", "parent"), sample_id
    )
    ctx = {
        "project": sample.project,
        "sample": sample,
        "judgements": sample.judgements.all()[:20],
        "x": lineage_extra(sample.extra, sample.tags),
    }
    return render(request, "samples/detail.html", ctx)

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from curation.http import AuthedRequest
from curation.projects.access import membership_for, object_for, project_for
from curation.projects.models import Role
from curation.projects.services import ServiceError
from curation.seeds import services
from curation.seeds.forms import SeedUploadForm
from curation.seeds.kinds import KINDS
from curation.seeds.models import SeedSet

PAGE_SIZE = 25


@login_required
def upload(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, Role.CURATOR)
    form = SeedUploadForm()
    if request.method == "POST":
        form = SeedUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload_file = form.cleaned_data["file"]
            limit = settings.SEEDBED_MAX_UPLOAD_BYTES
            if upload_file.size > limit:
                form.add_error(
                    "file",
                    f"The file is {upload_file.size / 1e6:.1f} MB; "
                    f"the limit is {limit / 1e6:.0f} MB.",
                )
            else:
                try:
                    seed_set = services.import_seed_set(
                        request.user,
                        project,
                        name=form.cleaned_data["name"],
                        data=upload_file.read(),
                        filename=upload_file.name,
                        description=form.cleaned_data["description"],
                        kind=form.cleaned_data["kind"],
                        mapping=form.cleaned_data["mapping"],
                    )
                except ServiceError as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(
                        request, f"Imported {seed_set.seed_count} seeds into {seed_set.name}."
                    )
                    return redirect("seeds:detail", seed_set.pk)
    ctx = {"project": project, "form": form, "kinds": KINDS.values()}
    return render(request, "seeds/upload.html", ctx)


@login_required
def detail(request: AuthedRequest, seed_set_id: int) -> HttpResponse:
    seed_set = object_for(request.user, SeedSet.objects.select_related("project"), seed_set_id)
    membership = membership_for(request.user, seed_set.project_id)
    q = request.GET.get("q", "").strip()[:200]
    paginator = Paginator(seed_set.seeds.search(q).order_by("position"), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    template = "seeds/detail.html"
    if request.htmx:
        template += "#seed-table"
    ctx = {
        "project": seed_set.project,
        "seed_set": seed_set,
        "page": page,
        "q": q,
        "can_curate": membership.has_role(Role.CURATOR),
    }
    return render(request, template, ctx)


@login_required
@require_POST
def delete(request: AuthedRequest, seed_set_id: int) -> HttpResponse:
    seed_set = object_for(request.user, SeedSet.objects.all(), seed_set_id, Role.CURATOR)
    project_id = seed_set.project_id
    try:
        services.delete_seed_set(request.user, seed_set)
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("seeds:detail", seed_set_id)
    messages.success(request, "Seed set deleted.")
    return redirect("projects:detail", project_id)

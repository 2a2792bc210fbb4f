"""Clusters in use: detection at creation, scopes, decisions (audited, reversible), edits."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from curation.dedup import services
from curation.dedup.models import ClusterStatus, DupCluster
from curation.dedup.services import scan
from curation.dedup.tasks import detect_new_samples, sweep_unembedded
from curation.projects.models import AuditEvent
from curation.review.services import claim_next, create_queue
from curation.samples.models import DupStatus, Sample, SampleStatus
from tests.cast import Cast
from tests.factories import RunFactory, SampleFactory, SeedFactory, SeedSetFactory

pytestmark = pytest.mark.django_db

POEM = "Write a short poem about the ocean at night."
POEM_2 = "Compose a brief poem describing the sea at night."
POEM_3 = "Write a little poem about the ocean at night time."
OTHER = "List three benefits of regular exercise for office workers."


def sft(project: Any, prompt: str, answer: str = "Waves hum under the moon.", **kw: Any) -> Sample:
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    return SampleFactory(project=project, messages=messages, **kw)


@pytest.fixture
def trio(cast: Cast, minilm: Any) -> dict[str, Sample]:
    cast.project.dedup_threshold = 0.8
    cast.project.save()
    samples = {
        "a": sft(cast.project, POEM),
        "b": sft(cast.project, POEM_2),
        "c": sft(cast.project, POEM_3),
        "x": sft(cast.project, OTHER, "Energy, focus and sleep."),
    }
    scan(cast.project.pk, full=True)
    for s in samples.values():
        s.refresh_from_db()
    return samples


def test_near_duplicates_form_one_cluster_with_the_earliest_sample_canonical(
    cast: Cast, trio: dict[str, Sample]
) -> None:
    cluster = DupCluster.objects.get(project=cast.project)
    assert cluster.canonical_sample_id == trio["a"].pk
    assert {m.sample_id for m in cluster.members.all()} == {trio[k].pk for k in "abc"}
    assert trio["b"].dup_status == DupStatus.NEAR_DUPLICATE
    assert trio["b"].duplicate_of_id == trio["a"].pk
    assert trio["a"].dup_status == trio["x"].dup_status == DupStatus.UNIQUE
    assert trio["a"].embedding_model == "all-MiniLM-L6-v2" and trio["a"].embedding_dim == 384


def test_the_highest_judge_score_wins_canonical_over_age(cast: Cast, minilm: Any) -> None:
    cast.project.dedup_threshold = 0.8
    cast.project.save()
    old = sft(cast.project, POEM, judge_score=2.0)
    best = sft(cast.project, POEM_2, judge_score=5.0)
    scan(cast.project.pk, full=True)
    assert DupCluster.objects.get(project=cast.project).canonical_sample_id == best.pk
    old.refresh_from_db()
    assert old.duplicate_of_id == best.pk


def test_a_sample_close_to_a_seed_is_a_duplicate_of_the_seed(cast: Cast, minilm: Any) -> None:
    cast.project.dedup_threshold = 0.8
    cast.project.save()
    seed = SeedFactory(seed_set=SeedSetFactory(project=cast.project), text=POEM)
    sample = sft(cast.project, POEM_2)
    scan(cast.project.pk, full=True)
    cluster = DupCluster.objects.get(project=cast.project)
    assert cluster.canonical_seed_id == seed.pk
    sample.refresh_from_db()
    assert sample.dup_status == DupStatus.NEAR_DUPLICATE and sample.duplicate_of_seed_id == seed.pk


def test_the_run_scope_ignores_copies_in_other_runs(cast: Cast, minilm: Any) -> None:
    from curation.dedup.services import set_dedup_settings

    set_dedup_settings(cast.owner, cast.project, threshold=0.8, scopes=["run"])
    run_1, run_2 = RunFactory(project=cast.project), RunFactory(project=cast.project)
    sft(cast.project, POEM, run=run_1)
    sft(cast.project, POEM_2, run=run_2)
    same_run = sft(cast.project, POEM_3, run=run_2)
    scan(cast.project.pk, full=True)
    cluster = DupCluster.objects.get(project=cast.project)
    assert {m.sample_id for m in cluster.members.all()} == {same_run.pk - 1, same_run.pk}


def test_the_exports_scope_compares_against_previously_exported_samples(
    cast: Cast, minilm: Any, settings: Any
) -> None:
    from curation.dedup.services import set_dedup_settings

    shipped = sft(cast.project, POEM)
    settings.SEEDBED_EXPORTED_SAMPLES = "tests.dedup.test_clusters.exported_hook"
    exported_hook.ids = {shipped.pk}
    set_dedup_settings(cast.owner, cast.project, threshold=0.8, scopes=["exports"])
    later = sft(cast.project, POEM_2, judge_score=5.0)
    sft(cast.project, POEM_3)  # close to `later` too, but only exported samples count
    scan(cast.project.pk, full=True)
    cluster = DupCluster.objects.get(project=cast.project)
    assert cluster.canonical_sample_id == shipped.pk  # shipped beats a higher judge score
    assert cluster.members.get(sample=shipped).exported
    later.refresh_from_db()
    assert later.duplicate_of_id == shipped.pk


def exported_hook(project_id: int) -> set[int]:
    return exported_hook.ids  # type: ignore[attr-defined]


def test_exact_copies_after_normalisation_are_exact_duplicates(cast: Cast, minilm: Any) -> None:
    first = sft(cast.project, "Name three rivers in Europe.", "Rhine, Danube, Seine.")
    copy = sft(cast.project, "name THREE rivers in Europe!", "Rhine, Danube,   Seine")
    scan(cast.project.pk, full=True)
    copy.refresh_from_db()
    assert copy.text_hash == Sample.objects.get(pk=first.pk).text_hash
    assert copy.dup_status == DupStatus.EXACT_DUPLICATE and copy.duplicate_of_id == first.pk


def test_new_samples_are_checked_when_the_sweep_finds_them(cast: Cast, trio: Any) -> None:
    late = sft(cast.project, "Write a short poem about the ocean at night, please.")
    assert late.dup_status == DupStatus.UNCHECKED
    assert sweep_unembedded() >= 1  # eager Celery: the detection task ran
    late.refresh_from_db()
    assert late.dup_status == DupStatus.NEAR_DUPLICATE and late.duplicate_of_id == trio["a"].pk


def test_an_edited_sample_is_embedded_again_and_leaves_its_cluster(
    cast: Cast, trio: dict[str, Sample], django_capture_on_commit_callbacks: Any
) -> None:
    c = trio["c"]
    before = list(c.embedding)
    Sample.objects.filter(pk=c.pk).update(
        messages=[{"role": "user", "content": "Translate 'good morning' into Italian."}]
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.mark_sample_for_reembedding(c.pk)  # eager Celery: the task runs on commit
    c.refresh_from_db()
    assert list(c.embedding) != before
    assert c.dup_status == DupStatus.UNIQUE
    cluster = DupCluster.objects.get(project=cast.project)
    assert c.pk not in {m.sample_id for m in cluster.members.all()}


def test_keeping_the_canonical_rejects_the_others_and_undo_restores_them(
    cast: Cast, trio: dict[str, Sample]
) -> None:
    cluster = DupCluster.objects.get(project=cast.project)
    services.keep_canonical(cast.curator, cluster)
    b = Sample.objects.get(pk=trio["b"].pk)
    assert b.status == SampleStatus.REJECTED and b.duplicate_of_id == trio["a"].pk
    assert Sample.objects.get(pk=trio["a"].pk).status == SampleStatus.PENDING
    event = AuditEvent.objects.filter(verb="dedup.keep_canonical").get()
    assert event.actor == cast.curator and set(event.after["rejected"]) == {
        trio["b"].pk,
        trio["c"].pk,
    }

    # A rescan leaves the decision alone.
    scan(cast.project.pk, full=True)
    assert Sample.objects.get(pk=trio["b"].pk).status == SampleStatus.REJECTED
    assert DupCluster.objects.filter(project=cast.project, status=ClusterStatus.OPEN).count() == 0

    services.reopen(cast.curator, cluster)
    b.refresh_from_db()
    assert b.status == SampleStatus.PENDING and b.dup_status == DupStatus.NEAR_DUPLICATE
    assert AuditEvent.objects.filter(verb="dedup.reopen").exists()


def test_not_duplicate_makes_members_unique_and_survives_rescans(
    cast: Cast, trio: dict[str, Sample]
) -> None:
    cluster = DupCluster.objects.get(project=cast.project)
    services.mark_not_duplicate(cast.curator, cluster)
    scan(cast.project.pk, full=True)
    statuses = set(
        Sample.objects.filter(pk__in=[trio[k].pk for k in "abc"]).values_list(
            "dup_status", flat=True
        )
    )
    assert statuses == {DupStatus.UNIQUE}
    assert not DupCluster.objects.filter(project=cast.project, status=ClusterStatus.OPEN).exists()
    services.reopen(cast.curator, cluster)
    assert Sample.objects.get(pk=trio["b"].pk).dup_status == DupStatus.NEAR_DUPLICATE


def test_changing_the_canonical_of_a_resolved_cluster_rejects_the_old_one(
    cast: Cast, trio: dict[str, Sample]
) -> None:
    cluster = services.keep_canonical(cast.curator, DupCluster.objects.get(project=cast.project))
    services.change_canonical(cast.curator, cluster, f"x{trio['b'].pk}")
    a, b = (Sample.objects.get(pk=trio[k].pk) for k in "ab")
    assert b.status == SampleStatus.PENDING and b.dup_status == DupStatus.UNIQUE
    assert a.status == SampleStatus.REJECTED and a.duplicate_of_id == b.pk
    event = AuditEvent.objects.get(verb="dedup.change_canonical")
    assert event.before == {"canonical": f"x{trio['a'].pk}"}
    # Changing it back undoes it.
    services.change_canonical(cast.curator, cluster, f"x{trio['a'].pk}")
    assert Sample.objects.get(pk=trio["b"].pk).duplicate_of_id == trio["a"].pk


def test_a_curator_resolves_a_cluster_in_the_ui_and_a_new_queue_skips_the_rejected(
    cast: Cast, trio: dict[str, Sample]
) -> None:
    client = Client()
    client.force_login(cast.curator)
    page = client.get(f"/projects/{cast.project.pk}/duplicates/")
    assert page.status_code == 200 and POEM_2 in page.content.decode()
    cluster = DupCluster.objects.get(project=cast.project)
    response = client.post(f"/duplicate-clusters/{cluster.pk}/keep/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Undo" in response.content.decode()

    queue = create_queue(
        cast.curator, cast.project, name="Fresh", filters={"statuses": ["pending"]}
    )
    served = []
    while (assignment := claim_next(cast.annotator, queue)) is not None:
        served.append(assignment.item.sample_id)
        assignment.status = "submitted"
        assignment.save(update_fields=["status"])
    assert sorted(served) == sorted([trio["a"].pk, trio["x"].pk])


def test_detect_task_is_a_no_op_when_nothing_changed(cast: Cast, trio: Any) -> None:
    before = sorted(Sample.objects.values_list("id", "dup_status", "updated_at"))
    detect_new_samples(cast.project.pk)
    assert sorted(Sample.objects.values_list("id", "dup_status", "updated_at")) == before


def test_a_queue_made_before_the_resolution_skips_the_rejected_duplicates_too(
    cast: Cast, trio: dict[str, Sample]
) -> None:
    from curation.review.services import submit_review

    queue = create_queue(cast.curator, cast.project, name="Early", filters={})
    client = Client()
    client.force_login(cast.curator)
    cluster = DupCluster.objects.get(project=cast.project)
    client.post(f"/duplicate-clusters/{cluster.pk}/keep/", HTTP_HX_REQUEST="true")
    rejected = set(Sample.objects.filter(status=SampleStatus.REJECTED).values_list("pk", flat=True))
    assert rejected and rejected.isdisjoint({trio["a"].pk, trio["x"].pk})
    served = []
    while (assignment := claim_next(cast.annotator, queue)) is not None:
        served.append(assignment.item.sample_id)
        submit_review(cast.annotator, assignment, decision="accept")
    assert sorted(served) == sorted([trio["a"].pk, trio["x"].pk])
    # Reopening the cluster puts the duplicate back in front of people.
    client.post(f"/duplicate-clusters/{cluster.pk}/reopen/", HTTP_HX_REQUEST="true")
    back = claim_next(cast.annotator, queue)
    assert back is not None and back.item.sample_id in rejected


def test_a_sample_with_no_text_is_marked_done_and_the_sweep_stops_coming_back(
    cast: Cast, minilm: Any
) -> None:
    blank = SampleFactory(
        project=cast.project,
        messages=[{"role": "user", "content": ""}, {"role": "assistant", "content": " "}],
    )
    assert sweep_unembedded() == 1
    blank.refresh_from_db()
    assert blank.embedding is None and blank.embedded_hash != ""
    assert sweep_unembedded() == 0

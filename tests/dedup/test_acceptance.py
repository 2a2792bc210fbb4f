"""The issue's acceptance: planted paraphrases are found on the local MiniLM at the default
threshold, and a rescan is idempotent."""

from __future__ import annotations

from typing import Any

import pytest

from curation.dedup.models import DupCluster, DupEdge, DupMember
from curation.dedup.services import scan
from curation.projects.models import Project
from curation.samples.models import DupStatus, Sample
from tests.dedup.conftest import add_samples
from tests.dedup.corpus import corpus
from tests.factories import ProjectFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _snapshot(project: Project) -> Any:
    return (
        sorted(
            DupEdge.objects.filter(project=project).values_list("id", "a_id", "b_id", "similarity")
        ),
        sorted(
            DupCluster.objects.filter(project=project).values_list(
                "id", "signature", "status", "canonical_sample_id"
            )
        ),
        sorted(
            DupMember.objects.filter(cluster__project=project).values_list(
                "id", "sample_id", "similarity"
            )
        ),
        sorted(
            Sample.objects.filter(project=project).values_list(
                "id", "dup_status", "duplicate_of_id", "status", "updated_at"
            )
        ),
    )


def test_planted_paraphrases_are_found_with_precision_and_recall_of_at_least_0_9(
    minilm: Any,
) -> None:
    project = ProjectFactory()
    assert project.dedup_threshold == Project._meta.get_field("dedup_threshold").default
    texts, planted = corpus(1000, 50, seed=2024)
    samples = add_samples(project, texts)

    scan(project.pk, full=True)

    ids = [s.pk for s in samples]
    truth = {frozenset((ids[a], ids[b])) for a, b in planted}
    found = set()
    for cluster in DupCluster.objects.filter(project=project).prefetch_related("members"):
        members = [m.sample_id for m in cluster.members.all()]
        found |= {frozenset((x, y)) for i, x in enumerate(members) for y in members[i + 1 :]}
    true_positives = len(found & truth)
    precision = true_positives / len(found)
    recall = true_positives / len(truth)
    assert precision >= 0.9, (precision, recall)
    assert recall >= 0.9, (precision, recall)
    # Every planted copy (the later sample) says which sample it duplicates.
    flagged = dict(
        Sample.objects.filter(project=project, dup_status=DupStatus.NEAR_DUPLICATE).values_list(
            "id", "duplicate_of_id"
        )
    )
    hits = sum(1 for a, b in planted if flagged.get(ids[b]) == ids[a])
    assert hits / len(planted) >= 0.9
    assert Sample.objects.filter(project=project, dup_status=DupStatus.UNCHECKED).count() == 0

    before = _snapshot(project)
    again = scan(project.pk, full=True)
    assert again["embedded"] == 0 and again["created"] == 0 and again["removed"] == 0
    assert again["edges_added"] == 0 and again["edges_removed"] == 0
    assert again["samples_changed"] == 0
    assert _snapshot(project) == before

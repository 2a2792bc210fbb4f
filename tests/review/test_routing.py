"""People where the judge is unsure: a run sends its low-confidence pairs to review and
accepts the rest automatically; review pages, filters and exports say which was which."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from curation.projects.services import ServiceError
from curation.review import services as review_services
from curation.review.calibration import Pair, confidence_bands, judge_vs_human
from curation.review.models import QueueItem, ReviewQueue
from curation.review.queues import create_queue
from curation.review.routing import spot_checked
from curation.samples.models import Judgement, Sample
from generation.runs.models import Run, RunStatus
from tests.exports.helpers import export_now, path_of
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.review import unsure

pytestmark = pytest.mark.django_db(transaction=True)


def team() -> tuple[Any, Any, Any]:
    project = ProjectFactory(name="Routing")
    owner = UserFactory(username="r-owner")
    annotator = UserFactory(username="r-annotator")
    MembershipFactory(project=project, user=owner, role="owner")
    MembershipFactory(project=project, user=annotator, role="annotator")
    return project, owner, annotator


def test_exactly_the_pairs_with_scattered_judge_samples_go_to_review(fake_llm: Any) -> None:
    project, owner, _ = team()
    run = unsure.start(fake_llm, owner, project)
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(run.samples.all())
    assert len(samples) == 6
    queue = ReviewQueue.objects.get(feed_run=run)
    queued = set(QueueItem.objects.filter(queue=queue).values_list("sample_id", flat=True))
    scattered = {s.pk for s in samples if unsure.task_of(s) in unsure.SCATTERED}
    assert queued == scattered and len(scattered) == 3
    for s in samples:
        if s.pk in scattered:
            assert (s.status, s.auto_accepted) == ("pending", False)
            assert s.judge_confidence == pytest.approx(unsure.SCATTERED_CONFIDENCE, abs=1e-3)
        else:
            assert (s.status, s.auto_accepted) == ("accepted", True)
            assert s.judge_confidence == 1.0
    chosen = Judgement.objects.filter(sample_id__in=scattered, score__gt=3)
    assert {round(j.confidence, 3) for j in chosen} == {0.434}
    assert queue.order == "least_confident" and queue.auto_accept_at == 0.8


def test_the_run_page_and_the_queue_say_where_the_pairs_went(fake_llm: Any) -> None:
    project, owner, _ = team()
    run = unsure.start(fake_llm, owner, project)
    client = Client()
    client.force_login(owner)
    queue = ReviewQueue.objects.get(feed_run=run)
    run_page = client.get(f"/runs/{run.pk}/").content.decode()
    assert "below 0.8" in run_page and f"/queues/{queue.pk}/" in run_page
    queue_page = client.get(f"/queues/{queue.pk}/").content.decode()
    assert "3 accepted automatically" in queue_page
    listed = client.get(f"/projects/{project.pk}/samples/?decided_by=auto").content.decode()
    assert listed.count('class="badge auto"') == 3
    auto = Sample.objects.filter(run=run, auto_accepted=True).first()
    assert "accepted automatically" in client.get(f"/samples/{auto.pk}/").content.decode()


def test_a_spot_check_sends_some_confident_pairs_to_review_as_well(fake_llm: Any) -> None:
    project, owner, _ = team()
    run = unsure.start(fake_llm, owner, project, spot_check=1.0)
    assert QueueItem.objects.filter(queue__feed_run=run).count() == 6
    assert not Sample.objects.filter(run=run, auto_accepted=True).exists()
    assert spot_checked(7, 11, 0.0) is False
    share = sum(spot_checked(7, pk, 0.25) for pk in range(4000)) / 4000
    assert 0.22 < share < 0.28


def test_without_the_option_nothing_is_routed(fake_llm: Any) -> None:
    project, owner, _ = team()
    run = unsure.start(fake_llm, owner, project, review_below=None)
    assert not ReviewQueue.objects.filter(feed_run=run).exists()
    assert set(run.samples.values_list("status", flat=True)) == {"pending"}
    assert run.samples.filter(judge_confidence__isnull=False).count() == 6  # still measured


def test_bad_thresholds_are_refused_before_the_run_starts(fake_llm: Any) -> None:
    project, owner, _ = team()
    with pytest.raises(ServiceError, match="between 0 and 1"):
        unsure.start(fake_llm, owner, project, review_below=1.5)
    with pytest.raises(ServiceError, match="needs a review threshold"):
        unsure.start(fake_llm, owner, project, review_below=None, spot_check=0.1)


def test_a_person_deciding_an_auto_accepted_pair_clears_the_mark(fake_llm: Any) -> None:
    project, owner, _ = team()
    run = unsure.start(fake_llm, owner, project)
    auto = Sample.objects.filter(run=run, auto_accepted=True).order_by("id")[0]
    queue = create_queue(owner, project, name="Check the automatic ones",
                         filters={"decided_by": "auto"})  # fmt: skip
    assert queue.items.count() == 3
    review_services.adjudicate(owner, queue.items.get(sample=auto), "reject")
    auto.refresh_from_db()
    assert (auto.status, auto.auto_accepted) == ("rejected", False)


def test_queues_order_least_confident_first_and_filter_on_confidence(fake_llm: Any) -> None:
    project, owner, annotator = team()
    unsure.start(fake_llm, owner, project, review_below=None)
    queue = create_queue(owner, project, name="By confidence", order="least_confident")
    first = review_services.claim_next(annotator, queue)
    assert first.item.sample.judge_confidence == pytest.approx(0.434, abs=1e-3)
    below = create_queue(owner, project, name="Unsure", filters={"confidence_below": 0.8})
    sure = create_queue(owner, project, name="Sure", filters={"confidence_min": 0.8})
    assert (below.items.count(), sure.items.count()) == (3, 3)
    with pytest.raises(ServiceError, match="decided_by"):
        create_queue(owner, project, name="Bad", filters={"decided_by": "robots"})


def test_an_export_marks_and_can_leave_out_the_auto_accepted(fake_llm: Any) -> None:
    project, owner, _ = team()
    run = unsure.start(fake_llm, owner, project)
    auto = sorted(Sample.objects.filter(run=run, auto_accepted=True).values_list("id", flat=True))
    export = export_now(owner, project, format="dpo")
    assert export.rows_written == 3
    listed = path_of(export, "auto_accepted_ids.txt").read_text().split()
    assert [int(x) for x in listed] == auto
    card = path_of(export, "README.md").read_text()
    assert "## Decided by" in card and "3 of 3 selected samples were accepted automatically" in card
    with pytest.raises(ServiceError, match="No samples match"):  # the rest wait in review
        export_now(owner, project, format="dpo", filters={"decided_by": "people"})
    pending = export_now(
        owner, project, format="dpo", filters={"decided_by": "people", "statuses": ["pending"]}
    )
    assert pending.rows_written == 3 and pending.file_named("auto_accepted_ids.txt") is None


def test_the_api_and_the_command_take_the_option(fake_llm: Any, api_client_for: Any) -> None:
    project, owner, _ = team()
    first = unsure.start(fake_llm, owner, project, review_below=None)
    body = {
        "recipe": "self_rewarding",
        "seed_set": first.seed_set_id,
        "target_count": 6,
        "params": {"generate_prompts": False},
        "review_below": 0.8,
    }
    made = api_client_for(owner).post(
        f"/api/v1/projects/{project.pk}/runs", body, content_type="application/json"
    )
    assert made.status_code == 201, made.content
    assert made.json()["review_below"] == 0.8
    bad = api_client_for(owner).post(
        f"/api/v1/projects/{project.pk}/runs", {**body, "review_below": 2},
        content_type="application/json",
    )  # fmt: skip
    # A share above 1 does not fit the schema (le=1): invalid input.
    assert bad.status_code == 422
    assert [e["loc"][-1] for e in bad.json()["detail"]] == ["review_below"]
    call_command("start_run", "--project", str(project.pk), "--recipe", "self_rewarding",
                 "--seed-set", str(first.seed_set_id), "--target", "6", "--params",
                 '{"generate_prompts": false}', "--review-below", "0.9")  # fmt: skip
    latest = Run.objects.latest("id")
    assert (latest.review_below, latest.spot_check) == (0.9, 0.0)


def pair(confidence: float | None, judge: str, human: str | None) -> Pair:
    return Pair(4.0, human, None, None, judge, confidence)


def test_agreement_is_reported_per_confidence_band_and_says_where_to_trust_it() -> None:
    pairs = [pair(0.95, "accept", "accept")] * 4 + [pair(0.8, "accept", "accept")] * 3
    pairs += [pair(0.6, "accept", "reject"), pair(0.6, "accept", "accept")]
    pairs += [pair(0.2, "accept", "reject")] * 2 + [pair(None, "accept", None)]
    bands, trust_from = confidence_bands(pairs)
    by = {b["band"]: b for b in bands}
    assert (by["0.9-1"]["decided"], by["0.9-1"]["agreement"]) == (4, 1.0)
    assert by["0.75-0.9"]["agreement"] == 1.0
    assert by["0.5-0.75"]["agreement"] == 0.5
    assert by["0-0.5"]["agreement"] == 0.0
    assert (by["unknown"]["samples"], by["unknown"]["decided"]) == (1, 0)
    assert trust_from == 0.75


def test_the_judge_vs_human_table_bands_a_reviewed_run(fake_llm: Any) -> None:
    project, owner, annotator = team()
    run = unsure.start(fake_llm, owner, project)
    queue = ReviewQueue.objects.get(feed_run=run)
    decisions = iter(["accept", "reject", "accept"])
    while (a := review_services.claim_next(annotator, queue)) is not None:
        review_services.submit_review(annotator, a, decision=next(decisions))
    (additive,) = judge_vs_human(queue)
    low = next(b for b in additive["bands"] if b["band"] == "0-0.5")
    assert (low["samples"], low["decided"]) == (3, 3)
    assert low["agreement"] == pytest.approx(2 / 3)  # a pair is the judge's claim: accept
    assert additive["trust_from"] is None


def test_the_queue_and_export_forms_offer_the_confidence_filters() -> None:
    from curation.exports.forms import ExportForm
    from curation.review.forms import QueueForm

    data = {"decided_by": "people", "confidence_below": "0.8", "confidence_min": ""}
    queue = QueueForm(data={"name": "q", "overlap": 1, "order": "least_confident", **data})
    assert queue.is_valid(), queue.errors
    assert queue.filters() == {"decided_by": "people", "confidence_below": 0.8}
    export = ExportForm(data={"format": "dpo", "statuses": ["accepted"], **data})
    assert export.is_valid(), export.errors
    assert export.filters()["decided_by"] == "people"
    assert list(export.fields)[-3:] == ["confidence_min", "confidence_below", "decided_by"]

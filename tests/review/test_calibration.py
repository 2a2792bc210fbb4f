"""Judge versus human, per rubric: a table, agreement, kappa, rho and an SVG plot."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from curation.review import services
from curation.review.calibration import spearman
from curation.samples.models import Judgement, Sample
from tests.review.test_claiming import make_queue

pytestmark = pytest.mark.django_db


def judged_queue() -> tuple[Any, Any, Any]:
    queue, (ann1, ann2), curator = make_queue(n_items=6, n_annotators=2, overlap=2)
    samples = list(Sample.objects.filter(project=queue.project).order_by("id"))
    # The judge scores 1..5 and 5 again; "coherence" only judges the first two.
    for sample, score in zip(samples, [1, 2, 3, 4, 5, 5], strict=True):
        Judgement.objects.create(sample=sample, judge_model="j", rubric_id="additive", score=score)
    Judgement.objects.create(sample=samples[0], judge_model="j", rubric_id="coherence", score=4)
    Judgement.objects.create(sample=samples[1], judge_model="j", rubric_id="coherence", score=1)
    # People: reject the two lowest, accept the rest, but disagree on the sample scored 3.
    plan = {samples[0].pk: ("reject", "reject"), samples[1].pk: ("reject", "reject")}
    plan[samples[2].pk] = ("accept", "reject")
    for user, which in ((ann1, 0), (ann2, 1)):
        while (a := services.claim_next(user, queue)) is not None:
            decision = plan.get(a.item.sample_id, ("accept", "accept"))[which]
            services.submit_review(
                user, a, decision=decision, rating=4 if decision == "accept" else 1
            )
    return queue, samples, curator


def test_the_judge_vs_human_table_compares_scores_with_decisions_per_rubric(
    api_client_for: Any,
) -> None:
    queue, _, curator = judged_queue()
    body = api_client_for(curator).get(f"/api/v1/queues/{queue.pk}/judge-vs-human").json()
    additive, coherence = body
    assert (additive["rubric"], additive["pairs"], additive["decided_pairs"]) == ("additive", 6, 5)
    assert additive["agreement"] == 1.0  # 1, 2 rejected; 4, 5, 5 accepted; the 3 is a tie
    assert additive["cohens_kappa"] == pytest.approx(1.0)
    assert additive["spearman"] > 0.9
    rates = {r["judge_score"]: r["human_accept_rate"] for r in additive["rows"]}
    assert rates == {1: 0.0, 2: 0.0, 3: 0.5, 4: 1.0, 5: 1.0}
    assert (coherence["pairs"], coherence["agreement"]) == (2, 0.5)  # 4 -> rejected: wrong


def test_an_adjudication_counts_as_the_human_decision() -> None:
    from curation.review.calibration import judge_vs_human
    from curation.review.models import QueueItem

    queue, samples, curator = judged_queue()
    services.adjudicate(curator, QueueItem.objects.get(sample=samples[2]), "reject")
    additive = judge_vs_human(queue)[0]
    assert additive["decided_pairs"] == 6
    assert additive["agreement"] == pytest.approx(5 / 6)  # the judge's 3 counts as accept


def test_the_queue_page_draws_the_plot_as_inline_svg_and_escapes_rubric_names() -> None:
    queue, samples, curator = judged_queue()
    Judgement.objects.create(sample=samples[0], judge_model="j", rubric_id="<b>x</b>", score=2)
    client = Client()
    client.force_login(curator)
    page = client.get(f"/queues/{queue.pk}/").content.decode()
    assert '<svg class="plot"' in page
    assert page.count('class="bar"') == 5 + 1 + 2  # additive 5 scores, <b>x</b> 1, coherence 2
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_spearman_matches_known_values() -> None:
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(0.8208, abs=1e-4)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None

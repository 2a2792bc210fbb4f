"""The classification export writes a sample's label as review left it: the edited label,
or the original again once the edit is undone."""

from __future__ import annotations

from typing import Any

import pytest

from curation.review import services as review
from tests.cast import Cast
from tests.exports.helpers import export_now, jsonl_rows
from tests.factories import SampleFactory

pytestmark = pytest.mark.django_db


def labelled(cast: Cast, text: str, label: str) -> Any:
    return SampleFactory(
        project=cast.project,
        kind="classification",
        label=label,
        messages=[{"role": "user", "content": text}],
        extra={"labels": ["positive", "negative"]},
    )


def exported_labels(cast: Cast) -> dict[str, str]:
    rows = jsonl_rows(export_now(cast.curator, cast.project, format="classification"))
    return {r["text"]: r["label"] for r in rows}


def review_all(cast: Cast, queue: Any, fixes: dict[str, str]) -> None:
    """Accept every item of the queue, relabelling the texts named in `fixes`."""
    while (a := review.claim_next(cast.annotator, queue)) is not None:
        label = fixes.get(a.item.sample.messages[0]["content"])
        review.submit_review(cast.annotator, a, decision="accept", label=label)


def test_an_edited_label_is_the_one_exported_and_undo_brings_the_original_back(
    cast: Cast,
) -> None:
    labelled(cast, "It broke on day one.", "positive")  # the generator got it wrong
    labelled(cast, "Works well.", "positive")
    queue = review.create_queue(cast.curator, cast.project, name="labels")
    review_all(cast, queue, {"It broke on day one.": "negative"})
    assert exported_labels(cast) == {"It broke on day one.": "negative", "Works well.": "positive"}
    review.undo_last(cast.annotator, queue)
    review.undo_last(cast.annotator, queue)  # both reviews taken back: the label is as made
    review_all(cast, queue, {})
    assert exported_labels(cast) == {"It broke on day one.": "positive", "Works well.": "positive"}

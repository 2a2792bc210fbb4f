"""A classification sample's label space, and checking a label a reviewer gives it.

The space is, in order of preference: the labels the recipe stored with the row
(`extra["labels"]`), else the distinct labels of the labelled seeds of the run's seed set,
else unknown (any label goes: the reviewer types it).
"""

from __future__ import annotations

from typing import Any

from curation.projects.services import ServiceError
from curation.samples.models import Sample, SampleKind
from curation.seeds.models import Seed, SeedKind

MAX_LABEL = 200  # Sample.label's length
MAX_SPACE = 500  # more distinct seed labels than this is free text, not a list to pick from


class InvalidLabel(ServiceError):
    """The label is not one this sample may have (the API answers 400)."""


def _stored(extra: Any) -> list[str]:
    raw = extra.get("labels") if isinstance(extra, dict) else None
    if not isinstance(raw, list):
        return []
    out: list[str] = []
    for value in raw:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value).strip()
            if text and len(text) <= MAX_LABEL and text not in out:
                out.append(text)
    return out


def _from_seeds(sample: Sample) -> list[str]:
    if sample.run_id is None:
        return []
    labels = (
        Seed.objects.filter(seed_set__runs=sample.run_id, kind=SeedKind.LABELLED)
        .order_by()
        .values_list("payload__label", flat=True)
        .distinct()[: MAX_SPACE + 1]
    )
    found = sorted({str(v).strip() for v in labels if v is not None and str(v).strip()})
    return found if len(found) <= MAX_SPACE else []


def label_space(sample: Sample) -> list[str]:
    """The labels a reviewer may pick for this sample; [] when none is known."""
    if sample.kind != SampleKind.CLASSIFICATION:
        return []
    return _stored(sample.extra) or _from_seeds(sample)


def checked_label(sample: Sample, label: str | None) -> str | None:
    """The new label, or None when there is no change. Raises InvalidLabel."""
    if label is None:
        return None
    text = label.strip()
    if text == sample.label:
        return None
    if sample.kind != SampleKind.CLASSIFICATION:
        raise InvalidLabel("Only classification samples have a label to change.")
    if not text:
        raise InvalidLabel("The label cannot be empty.")
    if len(text) > MAX_LABEL:
        raise InvalidLabel(f"The label is longer than {MAX_LABEL} characters.")
    space = label_space(sample)
    if space and text not in space:
        shown = ", ".join(space[:20]) + (f", … ({len(space)} in all)" if len(space) > 20 else "")
        raise InvalidLabel(f"{text!r} is not in this sample's label space ({shown}).")
    return text

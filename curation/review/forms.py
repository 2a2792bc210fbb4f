from __future__ import annotations

from typing import Any

from django import forms

from curation.review.models import QueueOrder
from curation.samples.models import DupStatus, SampleKind, SampleStatus


def _ids(text: str) -> list[int]:
    return [int(x) for x in text.replace(" ", "").split(",") if x.isdigit()]


def _words(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


class ConfidenceFilters(forms.Form):
    """The judge-confidence filters that queues, bulk decisions and exports share."""

    confidence_min = forms.FloatField(
        required=False, min_value=0, max_value=1, label="Judge confidence at least"
    )
    confidence_below = forms.FloatField(
        required=False,
        min_value=0.01,
        max_value=1,
        label="Judge confidence below",
        help_text="Also matches samples of unknown confidence (one judge sample).",
    )
    decided_by = forms.ChoiceField(
        required=False,
        choices=[
            ("", "anyone"),
            ("auto", "accepted automatically (judge confident)"),
            ("people", "people (or not decided)"),
        ],
        label="Decided by",
    )

    NAMES = ("confidence_min", "confidence_below", "decided_by")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.NAMES:  # after the form's own fields
            self.fields[name] = self.fields.pop(name)

    def confidence_filters(self) -> dict[str, object]:
        d = self.cleaned_data
        out: dict[str, object] = {
            k: d[k] for k in ("confidence_min", "confidence_below") if d.get(k) is not None
        }
        if d.get("decided_by"):
            out["decided_by"] = d["decided_by"]
        return out


class SampleFilterForm(ConfidenceFilters):
    """Which samples: used by new queues and by bulk decisions."""

    statuses = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, choices=SampleStatus.choices
    )
    kinds = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, choices=SampleKind.choices
    )
    run_ids = forms.CharField(required=False, help_text="Run ids, comma-separated.")
    recipe_ids = forms.CharField(required=False, help_text="Recipe ids, comma-separated.")
    score_min = forms.FloatField(required=False, label="Judge score at least")
    score_max = forms.FloatField(required=False, label="Judge score at most")
    dup_statuses = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=DupStatus.choices,
        label="Duplicate status",
    )
    tags = forms.CharField(required=False, help_text="Any of these tags, comma-separated.")

    def filters(self) -> dict[str, object]:
        d = self.cleaned_data
        out: dict[str, object] = {}
        for key in ("statuses", "kinds", "dup_statuses"):
            if d.get(key):
                out[key] = list(d[key])
        if _ids(d.get("run_ids") or ""):
            out["run_ids"] = _ids(d["run_ids"])
        for key in ("recipe_ids", "tags"):
            if _words(d.get(key) or ""):
                out[key] = _words(d[key])
        for key in ("score_min", "score_max"):
            if d.get(key) is not None:
                out[key] = d[key]
        return out | self.confidence_filters()


class QueueForm(SampleFilterForm):
    name = forms.CharField(max_length=200)
    overlap = forms.IntegerField(
        min_value=1, max_value=10, initial=1, help_text="Annotators per item."
    )
    order = forms.ChoiceField(choices=QueueOrder.choices)
    guidelines = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="Markdown."
    )
    field_order = ["name", "overlap", "order", "guidelines"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["statuses"].initial = ["pending"]


class BulkForm(SampleFilterForm):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    expected_count = forms.IntegerField(required=False, widget=forms.HiddenInput)


class QuestionForm(forms.Form):
    type = forms.ChoiceField(
        choices=[
            ("rating", "Rating"),
            ("labels", "Labels"),
            ("text", "Text"),
            ("decision", "Decision"),
        ]
    )
    id = forms.SlugField(max_length=40, help_text="Lowercase letters, digits and _.")
    title = forms.CharField(max_length=200, required=False)
    scale = forms.IntegerField(min_value=2, max_value=10, initial=5, required=False)
    options = forms.CharField(
        required=False, max_length=4000, help_text="Labels: the options, comma-separated."
    )
    multiple = forms.BooleanField(required=False, initial=True, label="Several labels allowed")

    def question(self) -> dict[str, object]:
        d = self.cleaned_data
        q: dict[str, object] = {"type": d["type"], "id": d["id"], "title": d["title"]}
        if d["type"] == "rating":
            q["scale"] = d["scale"] or 5
        if d["type"] == "labels":
            q["options"] = d["options"]
            q["multiple"] = d["multiple"]
        return q

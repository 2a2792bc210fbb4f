from __future__ import annotations

from django import forms

from curation.review.models import QueueOrder


class QueueForm(forms.Form):
    name = forms.CharField(max_length=200)
    overlap = forms.IntegerField(
        min_value=1, max_value=10, initial=1, help_text="Annotators per item."
    )
    order = forms.ChoiceField(choices=QueueOrder.choices)
    statuses = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[
            ("pending", "Pending"),
            ("needs_review", "Needs review"),
            ("accepted", "Accepted"),
            ("rejected", "Rejected"),
        ],
        initial=["pending"],
    )
    run_ids = forms.CharField(required=False, help_text="Run ids, comma-separated.")
    guidelines = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="Markdown."
    )

    def filters(self) -> dict[str, object]:
        d = self.cleaned_data
        out: dict[str, object] = {}
        if d["statuses"]:
            out["statuses"] = d["statuses"]
        ids = [int(x) for x in d["run_ids"].replace(" ", "").split(",") if x.isdigit()]
        if ids:
            out["run_ids"] = ids
        return out


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

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

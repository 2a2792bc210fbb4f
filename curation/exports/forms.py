from __future__ import annotations

from typing import Any

from django import forms

from curation.exports import system_prompts
from curation.exports.formats import ALL_FORMATS
from curation.exports.models import ExportFormat
from curation.review.forms import ConfidenceFilters

STATUSES = [
    ("accepted", "Accepted"),
    ("rejected", "Rejected"),
    ("needs_review", "Needs review"),
    ("pending", "Pending"),
]


def _ids(text: str) -> list[int]:
    return [int(x) for x in text.replace(" ", "").split(",") if x.isdigit()]


def _words(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


class ExportForm(ConfidenceFilters):
    format = forms.ChoiceField(choices=ExportFormat.choices, initial=ExportFormat.OPENAI)
    parquet = forms.BooleanField(required=False, label="Parquet instead of JSONL")
    name = forms.CharField(max_length=200, required=False)
    statuses = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=STATUSES,
        initial=["accepted"],
        help_text="KTO uses accepted and rejected when none is ticked.",
    )
    adjudicated_only = forms.BooleanField(required=False, label="Adjudicated by a curator only")
    canonical_only = forms.BooleanField(required=False, label="Canonical only (drop duplicates)")
    queue_ids = forms.CharField(required=False, help_text="Queue ids, comma-separated.")
    run_ids = forms.CharField(required=False, help_text="Run ids, comma-separated.")
    recipe_ids = forms.CharField(required=False, help_text="Recipe ids, comma-separated.")
    tags = forms.CharField(required=False, help_text="Any of these tags, comma-separated.")
    score_min = forms.FloatField(required=False, label="Judge score at least")
    score_max = forms.FloatField(required=False, label="Judge score at most")
    validation = forms.FloatField(
        required=False, min_value=0, max_value=0.99, label="Validation fraction"
    )
    seed = forms.IntegerField(required=False, initial=0, label="Split seed")
    include_scores = forms.BooleanField(required=False, label="DPO: include judge scores")
    include_source = forms.BooleanField(
        required=False, initial=True, label="DPO/KTO: include each row's source"
    )
    encoding = forms.ChoiceField(
        choices=[("none", "As stored"), ("self_instruct", "Self-Instruct fine-tuning encoding")],
        initial="none",
        required=False,
        label="SFT (openai, sharegpt): encoding",
        help_text="Self-Instruct's: each instance written with a template picked at random.",
    )
    loss_mask = forms.ChoiceField(
        choices=[("none", "Every turn (no mask)"), ("assistant", "Assistant turns only")],
        initial="none",
        required=False,
        label="SFT (openai, sharegpt): train on",
        help_text='Assistant turns only: each message carries "weight": 1 (assistant) or 0 '
        "(system, user, tool), the per-turn loss mask axolotl reads.",
    )
    sample_weight = forms.BooleanField(
        required=False,
        initial=True,
        label="SFT: a weight column when samples carry one",
        help_text='SPAG stores a training weight per row (extra "weight"); rows without '
        "one get 1.0.",
    )
    system_prompt = forms.ChoiceField(
        choices=system_prompts.CHOICES,
        initial="stored",
        required=False,
        label="System prompts",
        help_text="Orca 2 stores a generic system prompt in place of the teacher's (prompt "
        "erasure); restore the teacher's, or leave system messages out.",
    )

    def filters(self) -> dict[str, Any]:
        d = self.cleaned_data
        out: dict[str, Any] = {}
        # KTO and the trajectory formats have defaults of their own (services._filters_for).
        own_default = (
            ExportFormat.KTO, ExportFormat.STEP_LABELS, ExportFormat.TRAJECTORY_PAIRS,
        )  # fmt: skip
        if d["statuses"] or d["format"] not in own_default:
            out["statuses"] = d["statuses"]
        for key in ("adjudicated_only", "canonical_only"):
            if d[key]:
                out[key] = True
        for key in ("queue_ids", "run_ids"):
            if ids := _ids(d[key]):
                out[key] = ids
        for key in ("recipe_ids", "tags"):
            if words := _words(d[key]):
                out[key] = words
        for key in ("score_min", "score_max"):
            if d[key] is not None:
                out[key] = d[key]
        return out | self.confidence_filters()

    def split(self) -> dict[str, Any] | None:
        d = self.cleaned_data
        return {"validation": d["validation"], "seed": d["seed"] or 0} if d["validation"] else None

    def options(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "include_scores": d["include_scores"],
            "include_source": d["include_source"],
            "encoding": d.get("encoding") or "none",
            "system_prompt": d.get("system_prompt") or "stored",
            "loss_mask": d.get("loss_mask") or "none",
            "sample_weight": bool(d.get("sample_weight")),
        }


class ImportForm(forms.Form):
    file = forms.FileField()
    format = forms.ChoiceField(
        choices=[("auto", "Detect from the first record"), *((f, f) for f in ALL_FORMATS)]
    )
    target = forms.ChoiceField(
        choices=[("samples", "Samples to review (pending)"), ("seed_set", "A seed set")]
    )
    name = forms.CharField(max_length=200, required=False, help_text="Seed set name.")
    answers = forms.FileField(
        required=False,
        label="BFCL possible answers",
        help_text="BFCL: the possible_answer file that goes with the question file.",
    )

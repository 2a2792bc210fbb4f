from __future__ import annotations

from typing import Any

from django import forms

from curation.seeds.kinds import KINDS, SeedImportError, check_mapping, parse_mapping


class SeedUploadForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    file = forms.FileField(
        help_text="JSONL, JSON array, CSV, Parquet, a .txt or .md file, or an OpenAPI "
        "document (JSON or YAML)."
    )
    kind = forms.ChoiceField(
        choices=[("", "Detect from each record")] + [(k, s.label) for k, s in KINDS.items()],
        required=False,
        help_text="Read every record as this kind (see the kinds below).",
    )
    mapping = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "question=Problem\nanswer=Correct Answer"}
        ),
        required=False,
        label="Field mapping",
        help_text="Which column holds each field, one field=column per line (or a JSON "
        "object). Needs a kind.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind") or None
        try:
            data["mapping"] = check_mapping(kind, parse_mapping(data.get("mapping") or ""))
        except SeedImportError as exc:
            self.add_error("mapping", str(exc))
        data["kind"] = kind
        return data

from __future__ import annotations

from django import forms


class SeedUploadForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    file = forms.FileField(
        help_text="JSONL, JSON array, CSV or Parquet: Self-Instruct, Alpaca, ShareGPT, "
        "OpenAI messages or plain text records."
    )

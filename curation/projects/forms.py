from __future__ import annotations

from decimal import Decimal

from django import forms

from curation.projects.models import Role


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, initial="my script")


class EndpointForm(forms.Form):
    name = forms.CharField(max_length=100)
    base_url = forms.CharField(max_length=500, help_text="e.g. http://127.0.0.1:8081/v1")
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted; leave empty to keep the current key.",
    )
    api_key_env = forms.CharField(
        required=False, max_length=100, help_text="Or read the key from this environment variable."
    )
    chat_model = forms.CharField(max_length=200)
    judge_model = forms.CharField(max_length=200, required=False)
    embedding_model = forms.CharField(max_length=200, required=False)
    max_concurrency = forms.IntegerField(min_value=1, max_value=1024, initial=8)
    rpm = forms.IntegerField(min_value=1, required=False, label="Requests per minute")
    tpm = forms.IntegerField(min_value=1, required=False, label="Tokens per minute")
    price_in_per_1k = forms.DecimalField(min_value=Decimal(0), initial=Decimal(0), decimal_places=6)
    price_out_per_1k = forms.DecimalField(
        min_value=Decimal(0), initial=Decimal(0), decimal_places=6
    )
    is_default = forms.BooleanField(required=False)

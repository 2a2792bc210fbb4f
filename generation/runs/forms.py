"""The run form: fixed fields, plus fields built from the recipe's params JSON schema."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from curation.projects.models import ModelEndpoint, Project
from curation.seeds.models import SeedSet


class RunForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    seed_set = forms.ModelChoiceField(queryset=SeedSet.objects.none(), required=False)
    endpoint = forms.ModelChoiceField(queryset=ModelEndpoint.objects.none())
    judge_endpoint = forms.ModelChoiceField(
        queryset=ModelEndpoint.objects.none(),
        required=False,
        help_text="Defaults to the generation endpoint.",
    )
    target_count = forms.IntegerField(min_value=1, max_value=10_000_000, initial=20)
    budget_tokens = forms.IntegerField(
        min_value=1, required=False, help_text="Stop after this many tokens."
    )
    budget_cost = forms.DecimalField(
        min_value=Decimal("0.0001"),
        required=False,
        decimal_places=4,
        help_text="Stop after this cost.",
    )

    def __init__(
        self,
        project: Project,
        schema: dict[str, Any],
        defaults: dict[str, Any],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["seed_set"].queryset = project.seed_sets.all()  # type: ignore[attr-defined]
        endpoints = project.endpoints.all()
        self.fields["endpoint"].queryset = endpoints  # type: ignore[attr-defined]
        self.fields["judge_endpoint"].queryset = endpoints  # type: ignore[attr-defined]
        default = endpoints.filter(is_default=True).first()
        if default:
            self.fields["endpoint"].initial = default.pk
        self.param_names: list[str] = []
        for name, spec in schema.get("properties", {}).items():
            self.fields[f"p_{name}"] = param_field(name, spec, defaults.get(name))
            self.param_names.append(name)

    def params(self) -> dict[str, Any]:
        return {
            n: self.cleaned_data[f"p_{n}"]
            for n in self.param_names
            if self.cleaned_data.get(f"p_{n}") is not None
        }

    def param_fields(self) -> list[Any]:
        return [self[f"p_{n}"] for n in self.param_names]


def param_field(name: str, spec: dict[str, Any], default: Any) -> forms.Field:
    label = spec.get("title") or name.replace("_", " ").capitalize()
    help_text = spec.get("description", "")
    kind = spec.get("type")
    common: dict[str, Any] = {
        "label": label,
        "help_text": help_text,
        "initial": default,
        "required": False,
    }
    if "enum" in spec:
        return forms.ChoiceField(choices=[(v, v) for v in spec["enum"]], **common)
    if kind == "boolean":
        return forms.BooleanField(**common)
    if kind == "integer":
        return forms.IntegerField(
            min_value=spec.get("minimum"), max_value=spec.get("maximum"), **common
        )
    if kind == "number":
        return forms.FloatField(
            min_value=spec.get("minimum", spec.get("exclusiveMinimum")),
            max_value=spec.get("maximum"),
            **common,
        )
    return forms.CharField(**common)


class PromptForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 14, "class": "mono"}))

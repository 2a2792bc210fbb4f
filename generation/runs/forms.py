"""The run form: fixed fields, one endpoint per recipe role, and the recipe's params.

The params fields are built from the recipe's params JSON schema; the role fields from its
`meta.roles`; the seed sets offered are those holding only kinds the recipe reads.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Q

from curation.projects.models import ModelEndpoint, Project
from curation.seeds.models import SeedSet
from generation.runs.models import Run

# Older pages and scripts post the policy and judge endpoints under these names.
LEGACY_ROLE_FIELDS = {"endpoint": "policy", "judge_endpoint": "judge"}


class SeedSetChoice(forms.ModelChoiceField[SeedSet]):
    def label_from_instance(self, obj: Any) -> str:
        kinds = ", ".join(obj.kinds) or "kinds not recorded"
        return f"{obj.name} ({obj.seed_count} seeds: {kinds})"


class RunChoice(forms.ModelChoiceField[Run]):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} (round {obj.round}, {obj.status}, {obj.produced} samples)"


class EndpointChoice(forms.ModelChoiceField[ModelEndpoint]):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.chat_model})"


class RunForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    seed_set = SeedSetChoice(queryset=SeedSet.objects.none(), required=False)
    target_count = forms.IntegerField(min_value=1, max_value=10_000_000, initial=20)
    futility_limit = forms.IntegerField(
        min_value=1,
        required=False,
        help_text="Stop as failed after this many finished items in a row without a sample. "
        "Blank: max(200, 5 × target).",
    )
    budget_tokens = forms.IntegerField(
        min_value=1, required=False, help_text="Stop after this many tokens."
    )
    budget_cost = forms.DecimalField(
        min_value=Decimal("0.0001"),
        required=False,
        decimal_places=4,
        help_text="Stop after this cost.",
    )
    previous_run = RunChoice(
        queryset=Run.objects.none(),
        required=False,
        label="Next round of",
        help_text="Where the method's loop needs fine-tuning: train on that run's export, "
        "register the trained model as an endpoint, and start the next round on it here.",
    )
    review_below = forms.FloatField(
        min_value=0.01,
        max_value=1.0,
        required=False,
        label="Send to review below confidence",
        help_text="Samples whose judge confidence (0-1) is below this go to a review queue; "
        "the rest are accepted automatically and marked as such. Blank: all stay pending.",
    )
    spot_check = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        required=False,
        label="Spot check",
        help_text="Share of the confident samples sent to review as well (0.05 = 5 %), so "
        "the judge-vs-human view can show agreement at high confidence.",
    )

    def __init__(
        self,
        project: Project,
        recipe: dict[str, Any],
        endpoints: list[ModelEndpoint],
        data: Any = None,
        **kwargs: Any,
    ) -> None:
        """`recipe` is the recipe's describe(); `endpoints` the project's, already loaded."""
        super().__init__(_legacy_names(data), **kwargs)
        self.fields["seed_set"].queryset = seed_sets_for(  # type: ignore[attr-defined]
            project, recipe["inputs"]
        )
        self.fields["previous_run"].queryset = Run.objects.filter(  # type: ignore[attr-defined]
            project=project, recipe_id=recipe["id"]
        )
        self.role_names: list[str] = []
        default = next((e for e in endpoints if e.is_default), None)
        choices = ModelEndpoint.objects.filter(project=project)
        for role in recipe["roles"]:
            self.fields[f"role_{role['name']}"] = role_field(role, choices, default)
            self.role_names.append(role["name"])
        self.param_names: list[str] = []
        for name, spec in recipe["params_schema"].get("properties", {}).items():
            self.fields[f"p_{name}"] = param_field(name, spec, recipe["defaults"].get(name))
            self.param_names.append(name)

    def endpoints(self) -> dict[str, ModelEndpoint]:
        """The roles the form filled in; the others follow their fallback."""
        return {
            role: self.cleaned_data[f"role_{role}"]
            for role in self.role_names
            if self.cleaned_data.get(f"role_{role}") is not None
        }

    def run_fields(self) -> list[Any]:
        names = (
            "target_count",
            "futility_limit",
            "budget_tokens",
            "budget_cost",
            "previous_run",
            "review_below",
            "spot_check",
        )
        return [self[n] for n in names]

    def role_fields(self) -> list[Any]:
        return [self[f"role_{r}"] for r in self.role_names]

    def params(self) -> dict[str, Any]:
        return {
            n: self.cleaned_data[f"p_{n}"]
            for n in self.param_names
            if self.cleaned_data.get(f"p_{n}") is not None
        }

    def param_fields(self) -> list[Any]:
        return [self[f"p_{n}"] for n in self.param_names]


def _legacy_names(data: Any) -> Any:
    if not data or not any(old in data for old in LEGACY_ROLE_FIELDS):
        return data
    data = data.copy()
    for old, role in LEGACY_ROLE_FIELDS.items():
        if data.get(old) and not data.get(f"role_{role}"):
            data[f"role_{role}"] = data[old]
    return data


def seed_sets_for(project: Project, kinds: list[str]) -> Any:
    """The project's seed sets a recipe reading `kinds` can use (all, if it names none).

    Sets imported before kinds were recorded have none on file; they are offered too and
    the service checks their seeds when the run starts.
    """
    sets = SeedSet.objects.filter(project=project)
    if not kinds:
        return sets
    unrecorded = Q(kinds=[], seed_count__gt=0)
    return sets.filter(Q(pk__in=sets.accepting(kinds).values("pk")) | unrecorded)


def role_field(role: dict[str, Any], choices: Any, default: ModelEndpoint | None) -> forms.Field:
    name, help_text = role["name"], role["description"]
    if not role["required"] and role["fallback"] and "defaults to" not in help_text:
        help_text = f"{help_text} Optional: defaults to {role['fallback']}."
    field = EndpointChoice(
        queryset=choices,
        required=role["required"],
        label=f"{name.replace('_', ' ').capitalize()} endpoint",
        help_text=help_text.strip(),
        empty_label=f"(defaults to {role['fallback']})" if role["fallback"] else "---------",
    )
    if name == "policy" and default is not None:
        field.initial = default.pk
    return field


class LinesField(forms.Field):
    """A list param: one item per line (blank lines dropped)."""

    widget = forms.Textarea(attrs={"rows": 4, "class": "mono"})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(map(str, value)) if isinstance(value, list | tuple) else value

    def to_python(self, value: Any) -> list[str] | None:
        lines = [line.strip() for line in str(value or "").splitlines()]
        return [line for line in lines if line] or None


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
    if kind == "array":
        return LinesField(**{**common, "help_text": f"{help_text} One per line.".strip()})
    if kind == "object":
        return forms.JSONField(**{**common, "help_text": f"{help_text} As JSON.".strip()})
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

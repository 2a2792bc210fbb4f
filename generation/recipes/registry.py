"""The recipe registry: every recipe by id, and the prompts a project runs it with."""

from __future__ import annotations

from typing import Any

from generation.recipes.base import Recipe
from generation.recipes.prompts import PromptTemplate, builtin_templates


class UnknownRecipe(LookupError):
    pass


def _recipes() -> dict[str, type[Recipe]]:
    from generation.recipes.constitutional import ConstitutionalAI
    from generation.recipes.evol_instruct import EvolInstruct
    from generation.recipes.self_instruct import SelfInstruct
    from generation.recipes.self_rewarding import SelfRewarding

    classes: list[type[Recipe]] = [SelfInstruct, EvolInstruct, SelfRewarding, ConstitutionalAI]
    return {c.id: c for c in classes}


def all_recipes() -> list[type[Recipe]]:
    return sorted(_recipes().values(), key=lambda r: r.entry)


def get_recipe(recipe_id: str) -> Recipe:
    try:
        return _recipes()[recipe_id]()
    except KeyError:
        known = ", ".join(sorted(_recipes()))
        raise UnknownRecipe(f"Unknown recipe {recipe_id!r}; known recipes: {known}.") from None


def prompts_for(recipe_id: str, project_id: int | None) -> dict[str, PromptTemplate]:
    """Built-in templates, each replaced by the project's newest override where it has one."""
    templates = dict(builtin_templates(recipe_id))
    if project_id is None:
        return templates
    from generation.runs.models import PromptOverride

    seen: set[str] = set()
    overrides = PromptOverride.objects.filter(project_id=project_id, recipe_id=recipe_id)
    for o in overrides.order_by("name", "-version"):
        if o.name in seen or o.name not in templates:
            continue
        seen.add(o.name)
        templates[o.name] = PromptTemplate(recipe_id, o.name, f"project:p{o.version}", o.text)
    return templates


def describe_all() -> list[dict[str, Any]]:
    out = []
    for cls in all_recipes():
        info = cls.describe()
        info["prompts"] = {name: t.version for name, t in builtin_templates(cls.id).items()}
        out.append(info)
    return out

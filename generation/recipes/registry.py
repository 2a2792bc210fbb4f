"""The recipe registry: every recipe by (id, version), and the prompts a run uses.

Recipes join with `@register` (generation/recipes/kit/recipe.py); importing every module
of this package (one per recipe, plus its helpers) is what registers them.
A run keeps the version it started with and the prompt versions pinned in
`run.state["prompts"]`.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

from generation.recipes.kit.recipe import Recipe, entry_order, registered
from generation.recipes.prompts import (
    PromptError,
    PromptTemplate,
    builtin_templates,
    builtin_version,
)

# Modules of generation/recipes/ that are not recipes (the kit is a package, so skipped).
NOT_RECIPES = frozenset({"base", "prompts", "registry"})


def recipe_modules() -> list[str]:
    import generation.recipes as package

    found = pkgutil.iter_modules(package.__path__)
    names = sorted(m.name for m in found if not m.ispkg and m.name not in NOT_RECIPES)
    return [f"{package.__name__}.{name}" for name in names]


class UnknownRecipe(LookupError):
    pass


@cache
def _load() -> None:
    for module in recipe_modules():
        importlib.import_module(module)


def _latest() -> dict[str, type[Recipe[Any]]]:
    _load()
    out: dict[str, type[Recipe[Any]]] = {}
    for (rid, _version), cls in sorted(registered().items(), key=lambda kv: _order(kv[0][1])):
        out[rid] = cls  # the highest version wins
    return out


def _order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (0, version)


def all_recipes() -> list[type[Recipe[Any]]]:
    return sorted(_latest().values(), key=lambda r: entry_order(r.meta.entry))


def get_recipe(recipe_id: str, version: str | None = None) -> Recipe[Any]:
    latest = _latest()
    if recipe_id not in latest:
        known = ", ".join(sorted(latest))
        raise UnknownRecipe(f"Unknown recipe {recipe_id!r}; known recipes: {known}.")
    if version is None or version == latest[recipe_id].meta.version:
        return latest[recipe_id]()
    cls = registered().get((recipe_id, version))
    if cls is None:
        raise UnknownRecipe(
            f"{recipe_id} version {version} is no longer available (current: "
            f"{latest[recipe_id].meta.version}); start a new run to use the current one."
        )
    return cls()


def templates_of(recipe_id: str) -> dict[str, PromptTemplate]:
    """The recipe's own templates, plus the shared rubrics it names (prompts/judge/)."""
    templates = dict(builtin_templates(recipe_id))
    cls = _latest().get(recipe_id)
    shared = builtin_templates("judge")
    for name in getattr(cls, "shared_prompts", ()):
        templates.setdefault(name, shared[name])
    return templates


def prompts_for(
    recipe_id: str, project_id: int | None, pinned: dict[str, str] | None = None
) -> dict[str, PromptTemplate]:
    """The templates a run uses: pinned versions where given, else the newest.

    Newest = the built-in file, replaced by the project's latest override where it has one.
    """
    templates = templates_of(recipe_id)
    if pinned:
        return {name: _pinned(t, pinned.get(name), project_id) for name, t in templates.items()}
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


def _pinned(base: PromptTemplate, version: str | None, project_id: int | None) -> PromptTemplate:
    if version is None or version == base.version:
        return base
    if version.startswith("builtin:v"):
        return builtin_version(base.recipe_id, base.name, int(version.removeprefix("builtin:v")))
    if version.startswith("project:p") and project_id is not None:
        from generation.runs.models import PromptOverride

        row = PromptOverride.objects.filter(
            project_id=project_id,
            recipe_id=base.recipe_id,
            name=base.name,
            version=int(version.removeprefix("project:p")),
        ).first()
        if row is not None:
            return PromptTemplate(base.recipe_id, base.name, version, row.text)
    raise PromptError(f"{base.recipe_id}/{base.name}: pinned version {version} is gone")


def describe_all() -> list[dict[str, Any]]:
    out = []
    for cls in all_recipes():
        info = cls.describe()
        info["prompts"] = {name: t.version for name, t in templates_of(cls.meta.id).items()}
        out.append(info)
    return out

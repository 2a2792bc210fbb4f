"""Which endpoint plays which of a recipe's roles in a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from generation.recipes.kit.recipe import Role


class RoleError(ValueError):
    pass


def run_mapping(run: Any) -> dict[str, int]:
    """The run's role → endpoint id map; runs made before roles have only the two fields."""
    mapping = {k: int(v) for k, v in (run.endpoints or {}).items() if v}
    if run.endpoint_id and "policy" not in mapping:
        mapping["policy"] = run.endpoint_id
    if run.judge_endpoint_id and "judge" not in mapping:
        mapping["judge"] = run.judge_endpoint_id
    return mapping


def resolve(roles: Sequence[Role], mapping: Mapping[str, int]) -> dict[str, int]:
    """Every role of the recipe → an endpoint id, following fallbacks; errors name the role."""
    by_name = {r.name: r for r in roles}
    unknown = sorted(set(mapping) - set(by_name))
    if unknown:
        raise RoleError(
            f"This recipe has no role {', '.join(unknown)}; its roles are {', '.join(by_name)}."
        )
    out: dict[str, int] = {}
    for role in roles:
        name: str | None = role.name
        seen: set[str] = set()
        while name is not None and name not in mapping and name not in seen:
            seen.add(name)
            name = by_name[name].fallback if name in by_name else None
        if name is not None and name in mapping:
            out[role.name] = mapping[name]
        elif role.required:
            raise RoleError(f"Choose an endpoint for the {role.name} role.")
    return out

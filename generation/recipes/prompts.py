"""Versioned prompt templates: files in the repo, overridable per project.

A template is `generation/recipes/prompts/<recipe>/<name>.v<N>.txt`; the highest N is
current. A project override (PromptOverride rows) wins and has its own version
("project:p3"). Placeholders are `{{name}}`, replaced by plain substitution: seeds and
model outputs go in as data and are never interpreted (no str.format, no attribute
access), so an override cannot reach into Python objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROMPT_DIR = Path(__file__).resolve().parent / "prompts"
_FILE_RE = re.compile(r"^(?P<name>[a-z0-9_]+)\.v(?P<version>\d+)\.txt$")
_VAR_RE = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


class PromptError(ValueError):
    pass


@dataclass(frozen=True)
class PromptTemplate:
    recipe_id: str
    name: str
    version: str  # "builtin:v2" or "project:p3"
    text: str

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(_VAR_RE.findall(self.text))

    def render(self, **values: str) -> str:
        missing = self.variables - values.keys()
        if missing:
            raise PromptError(f"{self.recipe_id}/{self.name}: no value for {sorted(missing)}")
        return _VAR_RE.sub(lambda m: values[m.group(1)], self.text)


@cache
def builtin_templates(recipe_id: str) -> dict[str, PromptTemplate]:
    """The newest version of each template file of a recipe."""
    found: dict[str, tuple[int, Path]] = {}
    folder = PROMPT_DIR / recipe_id
    if not folder.is_dir():
        return {}
    for path in folder.iterdir():
        m = _FILE_RE.match(path.name)
        if not m:
            continue
        version = int(m.group("version"))
        if m.group("name") not in found or version > found[m.group("name")][0]:
            found[m.group("name")] = (version, path)
    return {
        name: PromptTemplate(recipe_id, name, f"builtin:v{v}", path.read_text(encoding="utf-8"))
        for name, (v, path) in sorted(found.items())
    }


def builtin_version(recipe_id: str, name: str, version: int) -> PromptTemplate:
    """One exact version of a template file, for runs that pinned it."""
    path = PROMPT_DIR / recipe_id / f"{name}.v{version}.txt"
    if not path.is_file():
        raise PromptError(f"{recipe_id}/{name}: version {version} does not exist")
    return PromptTemplate(recipe_id, name, f"builtin:v{version}", path.read_text(encoding="utf-8"))


def validate_override(base: PromptTemplate, text: str) -> None:
    """An override must keep to the placeholders the recipe fills in."""
    unknown = frozenset(_VAR_RE.findall(text)) - base.variables
    if unknown:
        raise PromptError(
            f"Unknown placeholders {sorted(unknown)}; this template offers "
            f"{sorted(base.variables) or 'none'}."
        )
    if not text.strip():
        raise PromptError("A prompt template cannot be empty.")

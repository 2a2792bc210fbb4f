"""Imports flow one way: projects <- seeds <- samples <- {generation, dedup, review, exports}.

Read from the source with `ast` (every import, including those inside functions), so a
module that reaches "up" fails here before it makes a cycle. Among the curation apps above
samples the order is dedup <- review <- exports <- demo. Curation takes from generation only its
leaf libraries; generation takes from curation only projects, seeds and samples.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The curation apps, lowest first: each may import the ones before it, never those after.
CURATION_APPS = [
    "curation.projects",
    "curation.seeds",
    "curation.samples",
    "curation.dedup",
    "curation.review",
    "curation.exports",
    "curation.demo",
]
# What generation may take from curation (besides the project package's helpers).
GENERATION_MAY_IMPORT = {"curation.projects", "curation.seeds", "curation.samples"}
# Generation's leaf libraries: they import nothing of ours but each other, so anyone may
# import them. localmodel is stdlib-only (it runs as its own process).
LEAVES = {
    "generation.llm",
    "generation.llm_parse",
    "generation.llm_tools",
    "generation.llm_tool_prompt",
    "generation.llm_score",
    "generation.capabilities",
    "generation.embeddings",
    "generation.localmodel",
    "generation.tools.bfcl",
}
# The one module that imports the model SDK (generation/llm/transport.py); the rest of
# generation.llm, and everyone else, goes through it.
SDK_IMPORTERS = {"generation.llm.transport"}
# The project package's wiring: it mounts every app's urls and router, so no app imports it.
WIRING = {"curation.api", "curation.urls", "curation.settings", "curation.wsgi"}

# Imports against the direction that remain on purpose: (importer, imported) -> why.
ALLOWED: dict[tuple[str, str], str] = {}


def modules() -> Iterator[tuple[str, Path]]:
    for top in ("curation", "generation"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # migrations name apps as strings and are checked by Django
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from generation import llm` names the module generation.llm.
            yield from (f"{node.module}.{a.name}" for a in node.names)


def owner(module: str) -> str | None:
    """The app (curation.seeds), leaf (generation.llm) or area (generation) of a module."""
    for unit in (*CURATION_APPS, *LEAVES):
        if module == unit or module.startswith(unit + "."):
            return unit
    if module.split(".")[0] == "generation":
        return "generation"
    return None  # the project package itself (curation.http ...) or a third party


def problem(importer: str, imported: str) -> str | None:
    src, dst = owner(importer), owner(imported)
    if dst == src or imported.split(".")[0] not in ("curation", "generation"):
        return None
    if importer in WIRING:
        return None
    if any(imported == w or imported.startswith(w + ".") for w in WIRING):
        return "imports the project's wiring"
    if src in LEAVES:
        return None if dst in LEAVES else "a leaf library imports the rest of the project"
    if dst is None or dst in LEAVES:
        return None  # the project package's helpers and the leaves are for everyone
    if src == "generation":
        return None if dst in GENERATION_MAY_IMPORT else "generation imports curation above samples"
    if dst == "generation":
        return "curation imports generation beyond its leaf libraries"
    if src is None:
        return None  # a project-package helper (auth, health) may use any curation app
    if CURATION_APPS.index(dst) > CURATION_APPS.index(src):
        return f"{src} imports {dst}, which is above it"
    return None


def test_imports_flow_from_projects_up_to_exports_and_generation() -> None:
    found = []
    for module, path in modules():
        for imported in imports(path):
            why = problem(module, imported)
            if why and (module, imported) not in ALLOWED:
                found.append(f"{path.relative_to(ROOT)}: {imported} ({why})")
    assert found == []


def test_only_the_llm_transport_imports_openai() -> None:
    importers = {
        module
        for module, path in modules()
        for imported in imports(path)
        if imported == "openai" or imported.startswith("openai.")
    }
    assert importers == SDK_IMPORTERS


def test_every_allowed_exception_is_still_needed() -> None:
    seen = {(m, i) for m, path in modules() for i in imports(path)}
    assert [pair for pair in ALLOWED if pair not in seen] == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("curation.projects.models", "curation.seeds.models"),
        ("curation.samples.models", "generation.runs.models"),
        ("curation.dedup.embed", "generation.runs.driver"),
        ("curation.review.services", "curation.exports.services"),
        ("generation.runs.services", "curation.review.models"),
        ("generation.llm", "curation.projects.models"),
        ("curation.exports.views", "curation.api"),
    ],
)
def test_it_names_an_import_against_the_direction(importer: str, imported: str) -> None:
    assert problem(importer, imported) is not None


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("curation.seeds.services", "curation.projects.models"),
        ("curation.exports.filters", "curation.review.models"),
        ("curation.dedup.embed", "generation.embeddings"),
        ("generation.runs.store", "curation.samples.models"),
        ("curation.samples.views", "curation.http"),
        ("curation.api", "generation.runs.api"),
    ],
)
def test_it_lets_an_import_along_the_direction_pass(importer: str, imported: str) -> None:
    assert problem(importer, imported) is None

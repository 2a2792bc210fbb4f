"""The seed kinds: what each holds, which fields an upload gives, and an example.

Recipes declare the kinds they accept and check them against `SeedSet.kinds`:

    from curation.seeds.kinds import KINDS, accepts, mismatch
    accepts({"qa"}, seed_set.kinds)        # True when every seed is a qa seed
    mismatch({"qa"}, seed_set.kinds)       # "" or a sentence for a 400 response

Each kind's module holds its spec and its parser; `KINDS[kind].payload` lists the keys
every normalised payload of that kind has (besides "meta", where unknown keys go).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curation.seeds.kinds import (
    conversation,
    document,
    env_task,
    instruction,
    kg_triple,
    labelled,
    persona,
    principle,
    qa,
    text,
    tool_spec,
    word_list,
    workflow,
)
from curation.seeds.kinds import spec as _spec
from curation.seeds.kinds.common import ParsedSeed, SeedImportError
from curation.seeds.kinds.spec import FieldSpec, KindSpec, accepts, mismatch, parse_mapping

__all__ = [
    "KINDS",
    "FieldSpec",
    "KindSpec",
    "ParsedSeed",
    "SeedImportError",
    "accepts",
    "check_mapping",
    "mismatch",
    "openai_tool",
    "parse_mapping",
]

KINDS: dict[str, KindSpec] = {
    m.SPEC.id: m.SPEC
    for m in (
        instruction, conversation, text, qa, document, tool_spec,
        persona, labelled, principle, word_list, workflow, kg_triple, env_task,
    )
}  # fmt: skip


def check_mapping(kind: str | None, mapping: Mapping[str, str]) -> dict[str, str]:
    """The mapping, validated for `kind`; raises SeedImportError with a sentence."""
    return _spec.check_mapping(KINDS, kind, mapping)


def openai_tool(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A tool_spec seed's payload as the `tools` entry of a chat completion request."""
    return {"type": "function", "function": dict(payload["function"])}

"""What a recipe declares (Meta, roles, needs, inputs) and the registry it joins.

A recipe is a class with `meta`, `Params`, `steps`, `deviations`, a `source` of work items
and `async def make(self, it) -> Out`. `@register` files it under (id, version): a changed
default or prompt makes a new version, and runs keep the version they started with.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from generation.recipes.base import PRIMITIVES, RecipeParams, Step
from generation.recipes.kit.fmt import Out
from generation.recipes.kit.item import Item

P = TypeVar("P", bound=RecipeParams)

# The seed list's sections (METHODS.md §1 "Seed section"), in catalogue order.
SECTIONS = {
    "self_play": "Self-iteration and self-play (自我迭代与博弈)",
    "distillation": "Teacher-to-student distillation (数据蒸馏)",
    "evolution": "Instruction evolution (指令演化)",
    "multi_agent": "Multi-agent generation (多智能体)",
    "preference": "Self-generated rewards and preferences (自生成奖励与偏好)",
    "other": "Other self-instruct-style methods (其他)",
    "tools": "Tool/API instruction data (构建工具/API使用的指令数据集)",
    "agent_dialogue": "Multi-turn agent dialogue (多轮agent对话合成)",
    "agent_flows": "Complex agentic flows (生成复杂智能体流程的数据)",
    "environments": "Agents in environments (与环境交互的智能体)",
    "beyond": "Beyond the seed list",
}
# Entries beyond the seed list are named B1, B2, …: widely used methods the list lacks.
BEYOND = "beyond"
_BEYOND_ENTRY = re.compile(r"B[1-9][0-9]?")
NEED_CODES = frozenset(
    {"N", "LP", "PLP", "EMB", "SBX", "RT", "ENV", "MM", "VLM", "RET", "KG", "CLS", "FT", "TOOLS"}
    | {"COMP"}  # ours, beyond METHODS.md §0.2: the /v1/completions API (Magpie's pre-query)
)


@dataclass(frozen=True)
class Role:
    """A model a recipe talks to. An optional role falls back to another (judge → policy)."""

    name: str
    description: str = ""
    required: bool = True
    fallback: str | None = None


POLICY = Role("policy", "The model that generates.")
JUDGE = Role("judge", "Scores and verdicts; defaults to the policy model.", False, "policy")


@dataclass(frozen=True)
class Need:
    """A METHODS.md §0.2 need. `when` makes it depend on params; `fallback` says what else."""

    code: str
    why: str = ""
    fallback: str = ""
    role: str = "policy"
    when: Callable[[Any], bool] | None = None

    def applies(self, params: Any) -> bool:
        return self.when is None or bool(self.when(params))


@dataclass(frozen=True)
class Meta:
    id: str
    name: str
    entry: int | str  # row in METHODS.md (1-60), or "B1", "B2", … beyond the seed list
    version: str
    output: str  # sft | preference | classification | conversation | tool_trajectory | a+b
    section: str
    summary: str
    inputs: frozenset[str] = frozenset()
    roles: tuple[Role, ...] = (POLICY, JUDGE)
    needs: tuple[Need, ...] = ()
    # For scheduling before anything is measured: samples a fresh item makes itself, and
    # items it spawns (Self-Instruct: new tasks per list).
    yield_per_item: float = 1.0
    spawns_per_item: float = 0.0
    needs_seed_set: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.section not in SECTIONS:
            raise ValueError(f"{self.id}: unknown section {self.section!r}")
        if isinstance(self.entry, str):
            if not _BEYOND_ENTRY.fullmatch(self.entry) or self.section != BEYOND:
                raise ValueError(f"{self.id}: an entry beyond the seed list is B1, B2, … in "
                                 f"section {BEYOND!r}")  # fmt: skip
        elif not 1 <= self.entry <= 60 or self.section == BEYOND:
            raise ValueError(f"{self.id}: METHODS.md entries are 1-60")
        for need in self.needs:
            if need.code not in NEED_CODES:
                raise ValueError(f"{self.id}: unknown need {need.code!r}")
        names = [r.name for r in self.roles]
        if len(set(names)) != len(names) or "policy" not in names:
            raise ValueError(f"{self.id}: roles must be distinct and include policy")


def entry_order(entry: int | str) -> tuple[int, int]:
    """Sort key: the seed list's entries 1-60 first, then B1, B2, …"""
    return (0, entry) if isinstance(entry, int) else (1, int(entry[1:]))


class Recipe(Generic[P]):
    meta: ClassVar[Meta]
    Params: ClassVar[type[RecipeParams]]
    steps: ClassVar[tuple[Step, ...]]
    deviations: ClassVar[tuple[str, ...]] = ()
    # Read by older code paths; set from meta by @register.
    id: ClassVar[str]
    name: ClassVar[str]
    entry: ClassVar[int | str]
    version: ClassVar[str]
    output_kind: ClassVar[str]
    summary: ClassVar[str]
    needs_seed_set: ClassVar[bool]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """`class X(Recipe[Params])` makes Params the recipe's params model."""
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            args = typing.get_args(base)
            if args and isinstance(args[0], type) and issubclass(args[0], RecipeParams):
                cls.Params = args[0]

    def source(self, run: Any) -> Iterable[tuple[str, Any]]:
        """The run's fresh work items as (key, payload); keys are stable across slices."""
        raise NotImplementedError

    async def setup(self, run: Any) -> None:
        """Once per slice, before any item: build pools, parse a constitution, …"""

    async def make(self, it: Item[P]) -> Out:
        raise NotImplementedError

    def needs(self, params: Any) -> list[Need]:
        return [n for n in self.meta.needs if n.applies(params)]

    @classmethod
    def check_start(cls, params: Any, seed_set: Any | None) -> None:
        """Refuse a run that cannot work, before it starts: raise ValueError with the reason
        (the run form, the API and start_run show it)."""

    @classmethod
    def report(cls, run: Any) -> dict[str, Any]:
        """Run-level figures the recipe defines (ZeroGen: Self-BLEU), for the run page and
        `GET /api/v1/runs/{id}/report`. Read from stored samples; keep it bounded."""
        return {}

    @classmethod
    def validate_prompt(cls, name: str, text: str) -> None:
        """Recipe-specific checks for a prompt override (beyond its placeholders)."""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        m = cls.meta
        return {
            "id": m.id,
            "name": m.name,
            "version": m.version,
            "methods_entry": m.entry,
            "section": m.section,
            "section_title": SECTIONS[m.section],
            "output_kind": m.output,
            "summary": m.summary,
            "inputs": sorted(m.inputs),
            "roles": [
                {
                    "name": r.name,
                    "description": r.description,
                    "required": r.required,
                    "fallback": r.fallback,
                }
                for r in m.roles
            ],
            "needs": [
                {
                    "code": n.code,
                    "why": n.why,
                    "fallback": n.fallback,
                    "role": n.role,
                    "conditional": n.when is not None,
                }
                for n in m.needs
            ],
            "steps": [
                {"primitive": s.primitive, "name": s.name, "description": s.description}
                for s in cls.steps
            ],
            "params_schema": cls.Params.model_json_schema(),
            "defaults": cls.Params().model_dump(),
            "needs_seed_set": m.needs_seed_set,
            "deviations": list(cls.deviations),
        }


_REGISTRY: dict[tuple[str, str], type[Recipe[Any]]] = {}
R = TypeVar("R", bound=type[Recipe[Any]])


def register(cls: R) -> R:
    """File a recipe class under (id, version)."""
    m = cls.meta
    key = (m.id, m.version)
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"recipe {m.id} v{m.version} is registered twice")
    for step in cls.steps:
        if step.primitive not in PRIMITIVES:
            raise ValueError(f"{m.id}: unknown primitive {step.primitive}")
    cls.id, cls.name, cls.entry, cls.version = m.id, m.name, m.entry, m.version
    cls.output_kind, cls.summary, cls.needs_seed_set = m.output, m.summary, m.needs_seed_set
    _REGISTRY[key] = cls
    return cls


def registered() -> dict[tuple[str, str], type[Recipe[Any]]]:
    return dict(_REGISTRY)

"""Self-Talk's workflow graph and the agent's progress through it. Pure: no model, no I/O.

A workflow seed (curation/seeds/kinds/workflow.py) holds its steps as {id, text, next}; the
first step is the start and a step with no next ends the workflow. `Progress` follows one
dialogue: the steps the agent may do now (the frontier), what it has done, and whether it
reached an end. An agent turn is matched to the step it may do now, or one step further on,
that it is most similar to; at or above the threshold that step is done. A step the agent
skips stays undone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    id: str
    text: str
    next: tuple[str, ...]


@dataclass(frozen=True)
class Workflow:
    name: str
    goal: str
    steps: dict[str, Step]  # in the seed's order; the first is the start

    @property
    def start(self) -> str:
        return next(iter(self.steps))

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> Workflow:
        """The directed graph of a workflow seed's payload; ValueError when it is not one."""
        raw = payload.get("steps")
        if not isinstance(raw, list) or not raw:
            raise ValueError("the workflow has no steps")
        steps: dict[str, Step] = {}
        for i, item in enumerate(raw):
            text = item.get("text") if isinstance(item, dict) else None
            targets = item.get("next") if isinstance(item, dict) else None
            if not isinstance(text, str) or not text.strip() or not isinstance(targets, list):
                raise ValueError(f"step {i + 1} is not {{id, text, next}}")
            sid = str(item.get("id") or i + 1)
            steps[sid] = Step(sid, text.strip(), tuple(str(t) for t in targets))
        for step in steps.values():
            unknown = [t for t in step.next if t not in steps]
            if unknown:
                raise ValueError(f"step {step.id} leads to unknown steps {unknown}")
        name = str(payload.get("name") or "").strip()
        return cls(name, str(payload.get("goal") or "").strip(), steps)

    def texts(self, ids: list[str]) -> list[str]:
        return [self.steps[i].text for i in ids]


@dataclass
class Progress:
    flow: Workflow
    done: list[str] = field(default_factory=list)
    frontier: list[str] = field(default_factory=list)
    finished: bool = False  # nothing is left to do: an end was reached

    def __post_init__(self) -> None:
        if not self.frontier:
            self.frontier = [self.flow.start]

    def allowed_next(self) -> list[str]:
        """The steps that may follow the ones the agent may do now."""
        after = [n for s in self.frontier for n in self.flow.steps[s].next]
        return [n for n in dict.fromkeys(after) if n not in self.done]

    def candidates(self) -> list[str]:
        """What an agent turn can complete: the frontier, then one step further on."""
        return list(dict.fromkeys([*self.frontier, *self.allowed_next()]))

    def advance(self, similarity: Mapping[str, float], threshold: float) -> list[str]:
        """The candidate most similar to the turn (the earlier on a tie) is done if it reaches
        the threshold, and the agent moves on past it. Returns what was done ([] or [id])."""
        candidates = self.candidates()
        if not candidates:
            return []
        best = max(candidates, key=lambda c: similarity.get(c, 0.0))
        if similarity.get(best, 0.0) < threshold:
            return []
        self.done.append(best)
        after = self.flow.steps[best].next
        self.frontier = [n for n in dict.fromkeys(after) if n not in self.done]
        self.finished = not self.frontier  # an end reached, or only done steps lie ahead
        return [best]

    @property
    def completion(self) -> float:
        return round(len(self.done) / len(self.flow.steps), 4)

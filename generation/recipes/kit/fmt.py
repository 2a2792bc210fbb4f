"""FMT: the shapes a recipe returns. The kit adds lineage, seeds, tokens and work keys.

A recipe's `make` returns one Piece, a list of them, or None (an item that only spawned
work). `suffix` tells the pieces of one item apart in their work keys (`key:suffix`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from generation.recipes.base import JudgementDraft
from generation.recipes.kit.results import Judged

if TYPE_CHECKING:
    from generation.sim import Conversation


@dataclass
class Piece:
    kind: str
    messages: list[dict[str, Any]]
    chosen: list[dict[str, Any]] | None = None
    rejected: list[dict[str, Any]] | None = None
    label: str = ""
    tools: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    suffix: str = ""
    step: str = ""
    prompt_version: str = ""  # the template that made it; default: the item's last one
    parent_key: str | None = None  # work key of the parent sample (lineage across items)
    role: str = ""  # the role whose model wrote it (Sample.model); default policy
    judge_score: float | None = None
    # How sure the judging is (0-1); None: the lowest of the judgements' (kit/confidence.py).
    confidence: float | None = None
    judgements: list[JudgementDraft] = field(default_factory=list)


Out = Piece | list[Piece] | None


def _turns(prompt: str, system: str | None) -> list[dict[str, Any]]:
    head = [{"role": "system", "content": system}] if system else []
    return [*head, {"role": "user", "content": prompt}]


def sft(prompt: str, response: str, *, system: str | None = None, **opts: Any) -> Piece:
    """An SFT pair: (system,) user → assistant."""
    messages = [*_turns(prompt, system), {"role": "assistant", "content": response}]
    return Piece("sft", messages, **opts)


def dpo(
    prompt: str, chosen: str, rejected: str, *, system: str | None = None, **opts: Any
) -> Piece:
    """A preference triple: the prompt, and the chosen and rejected assistant replies."""
    return Piece(
        "preference",
        _turns(prompt, system),
        chosen=[{"role": "assistant", "content": chosen}],
        rejected=[{"role": "assistant", "content": rejected}],
        **opts,
    )


def kto(prompt: str, response: str, desirable: bool, **opts: Any) -> Piece:
    """An unpaired KTO row: an SFT sample with its desirability label in extra["kto"]."""
    piece = sft(prompt, response, **opts)
    piece.extra["kto"] = {"label": bool(desirable)}
    return piece


def classification(text: str, label: str, *, text_b: str | None = None, **opts: Any) -> Piece:
    """A classification row: text (and text_b for pairs) with its label."""
    content = text if text_b is None else f"{text}\n\n{text_b}"
    piece = Piece("classification", [{"role": "user", "content": content}], label=label, **opts)
    piece.extra.update(text=text, **({"text_b": text_b} if text_b is not None else {}))
    return piece


def conversation(turns: list[dict[str, Any]], **opts: Any) -> Piece:
    """A multi-turn dialogue as OpenAI messages."""
    return Piece("conversation", list(turns), **opts)


def dialogue(conversation: Conversation, *, system: str | None = None, **opts: Any) -> Piece:
    """A SIM conversation as a conversation sample: its turns as OpenAI messages, and per
    turn the agent, role, model and tokens (extra["turns"]), the agents' personas and why
    it ended (extra["stopped"])."""
    piece = Piece("conversation", conversation.messages(system), **opts)
    piece.extra.update(
        turns=conversation.lineage(),
        personas=conversation.personas(),
        stopped=conversation.stopped,
    )
    return piece


def tool_trajectory(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]], **opts: Any
) -> Piece:
    """Messages with assistant tool_calls and tool results, plus the tools' JSON schemas."""
    return Piece("tool_trajectory", list(messages), tools=list(tools), **opts)


def judgement(label: str, judged: Judged, *, confidence: float | None = None) -> JudgementDraft:
    """A Judgement row for a sample, from an it.judge result; its confidence is the spread of
    the judge's samples unless given (two judges: kit.confidence.of_two)."""
    return JudgementDraft(
        judged.model,
        judged.rubric,
        judged.version,
        judged.score,
        f"{label}: {judged.rationale}"[:4000] if label else judged.rationale[:4000],
        "\n---\n".join(judged.raw),
        judged.confidence if confidence is None else confidence,
    )

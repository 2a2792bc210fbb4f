"""GPT4Tools' pieces that are not steps: an image as text (caption + object boxes) from a
seed, the teacher's chain (Instruction / Thought / Action / Action Input / Observation /
AI) read defensively, each step checked against the tool list, and the chain as OpenAI
tool-calling messages (a context sample: its first steps as unweighted context).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from generation.recipes.base import SeedRow
from generation.recipes.gpt4tools_tools import VisualTool, resolve

NO_TOOL = "No tool needed."
_OBJECT = re.compile(
    r"^\s*[-*]?\s*(?:object\s*:\s*)?([^:\[\]]{1,60}?)\s*:\s*\[\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)"
    r"\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\]\s*$",
    re.IGNORECASE,
)
_PATH = re.compile(r"[\w./-]+\.(?:png|jpe?g)\b", re.IGNORECASE)
_LABEL = re.compile(
    r"^\s*[*#>\s]*(instruction|thought|action input|action|observation|ai|final answer)"
    r"\s*\**\s*:\s*(.*)$",
    re.IGNORECASE,
)
_BOX = re.compile(r"^\[?\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\]?$")


@dataclass(frozen=True)
class Image:
    path: str
    caption: str
    objects: list[tuple[str, list[float]]]

    def described(self) -> str:
        """The image as the teacher reads it: its caption, then one line per object box."""
        lines = [f"Caption: {self.caption}"]
        if self.objects:
            lines.append("Objects (label: [x1, y1, x2, y2] in pixels):")
            lines += [f"- {label}: {json.dumps(box)}" for label, box in self.objects]
        return "\n".join(lines)


def image_of(seed: SeedRow) -> Image:
    """A document seed (title: the image id; text: caption lines and "object: [x1, y1, x2,
    y2]" lines) or a text seed (the same text, no title) as an image description."""
    text = str(seed.payload.get("text") or seed.text or "")
    caption, objects = [], []
    for line in text.splitlines():
        found = _OBJECT.match(line)
        if found:
            objects.append((found.group(1).strip(), [_num(found.group(i)) for i in range(2, 6)]))
        elif line.strip():
            caption.append(line.strip())
    title = str(seed.payload.get("title") or "").strip()
    stem = re.sub(r"[^\w-]+", "_", title).strip("_")[:40] if title else ""
    stem = stem or hashlib.sha256(text.encode()).hexdigest()[:8]
    return Image(f"image/{stem}.png", " ".join(caption), objects)


def _num(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() else value


@dataclass
class Step:
    thought: str
    action: str
    action_input: str
    observation: str | None = None


@dataclass
class Chain:
    instruction: str = ""
    steps: list[Step] = field(default_factory=list)
    answer: str = ""
    thought: str = ""  # the latest Thought not yet used by an Action


def parse_chain(text: str) -> Chain:
    """The teacher's reply as a chain. Lines after a label continue its value; an Action
    opens a step; a step's Action Input or Observation written twice keeps the first."""
    chain, last = Chain(), ""
    for raw in text.replace("```", "\n").splitlines():
        found = _LABEL.match(raw)
        if not found:
            if raw.strip() and last:
                _append(chain, last, raw.strip())
            continue
        label, value = found.group(1).lower(), found.group(2).strip()
        last = label
        if label == "instruction" and not chain.instruction:
            chain.instruction = value
        elif label == "thought":
            chain.thought = value
        elif label == "action":
            chain.steps.append(Step(chain.thought, value, ""))
            chain.thought = ""
        elif label == "action input" and chain.steps and not chain.steps[-1].action_input:
            chain.steps[-1].action_input = value
        elif label == "observation" and chain.steps and chain.steps[-1].observation is None:
            chain.steps[-1].observation = value
        elif label in ("ai", "final answer") and not chain.answer:
            chain.answer = value
        else:
            last = ""  # a repeated label: its lines are not appended to the first value
    return chain


def _append(chain: Chain, label: str, line: str) -> None:
    if label == "instruction":
        chain.instruction += f" {line}"
    elif label in ("ai", "final answer"):
        chain.answer += f"\n{line}"
    elif label == "observation" and chain.steps and chain.steps[-1].observation is not None:
        chain.steps[-1].observation += f"\n{line}"


@dataclass(frozen=True)
class Checked:
    tool: VisualTool
    arguments: dict[str, Any]
    observation: str


def check_step(
    step: Step, tools: list[VisualTool], known: set[str], stand_in: str
) -> Checked | str:
    """⑤ CHECK one step against the shown tools: its tool, its arguments (arity, none
    empty, image paths that exist so far, boxes), an observation. The reason when not."""
    tool = resolve(step.action, tools)
    if tool is None:
        return "unknown_tool"
    values = _values(step.action_input, tool)
    if values is None:
        return "malformed_arguments"
    args: dict[str, Any] = {}
    for arg, value in zip(tool.args, values, strict=True):
        if not value:
            return "empty_argument"
        if arg.kind == "image" and value not in known:
            return "unknown_image_path"
        if arg.kind == "box":
            box = _box(value)
            if box is None:
                return "bad_box"
            args[arg.name] = box
        else:
            args[arg.name] = value
    observation = (step.observation or "").strip()
    if tool.output == "image":  # a new image: its file name, as GPT4Tools' tools return
        paths = _PATH.findall(observation)
        observation = paths[0] if paths else stand_in
    elif not observation:
        return "missing_observation"
    return Checked(tool, args, observation)


def _values(text: str, tool: VisualTool) -> list[str] | None:
    """The Action Input's values in the tool's argument order: a JSON object with exactly
    its arguments, or GPT4Tools' comma-separated string (the last value keeps its commas)."""
    text = text.strip().strip("`").strip()
    names = [a.name for a in tool.args]
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or set(data) != set(names):
            return None
        return [
            _clean(json.dumps(data[n]) if isinstance(data[n], list) else str(data[n]))
            for n in names
        ]
    if not names:
        return [] if not text else None
    parts = [_clean(p) for p in text.split(",", len(names) - 1)]
    return parts if len(parts) == len(names) else None


def _clean(value: str) -> str:
    return value.strip().strip("\"'`").strip()


def _box(text: str) -> list[float | int] | None:
    found = _BOX.match(text.strip())
    if not found:
        return None
    x1, y1, x2, y2 = (_num(found.group(i)) for i in range(1, 5))
    return [x1, y1, x2, y2] if 0 <= x1 < x2 and 0 <= y1 < y2 else None


def paths_in(text: str) -> set[str]:
    return set(_PATH.findall(text))


def user_turn(image: Image, instruction: str, with_caption: bool) -> str:
    """The training prompt: the image's file name (and caption, as GPT4Tools' "Provide an
    image named … Description: …" turn gives it), then the request."""
    head = f"Image: {image.path}"
    if with_caption and image.caption:
        head += f"\nDescription: {image.caption}"
    return f"{head}\n\n{instruction}"


def final_turn(answer: str, decision: bool) -> str:
    return f"{NO_TOOL}\n{answer}" if decision else answer


def messages_of(
    prompt: str, steps: list[Checked], thoughts: list[str], final: str, context: int = 0
) -> list[dict[str, Any]]:
    """User → (assistant tool call → tool result)* → assistant answer. With `context` = k,
    the first k steps are context: their assistant turns carry "weight": 0 (OpenAI's
    per-message fine-tuning weight), the continuation's "weight": 1."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    for i, (step, thought) in enumerate(zip(steps, thoughts, strict=True)):
        call = {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": step.tool.name, "arguments": json.dumps(step.arguments)},
        }
        turn: dict[str, Any] = {
            "role": "assistant",
            "content": thought or None,
            "tool_calls": [call],
        }
        if context:
            turn["weight"] = 0 if i < context else 1
        messages += [
            turn,
            {"role": "tool", "tool_call_id": call["id"], "content": step.observation},
        ]
    answer: dict[str, Any] = {"role": "assistant", "content": final}
    if context:
        answer["weight"] = 1
    return [*messages, answer]

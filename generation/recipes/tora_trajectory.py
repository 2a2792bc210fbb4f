"""ToRA's tool-integrated trajectories: rationale → ```python``` → ```output``` → … → answer.

A trajectory grows one round at a time. The model writes a rationale and one Python block
and stops (at "```output", as ToRA's inference does); the block runs alone in the sandbox
(ToRA's executor keeps no state between blocks) and its printed output comes back as an
```output block; the model goes on. A reply without a block is the last one: its answer
is read and checked. Anything the model wrote after its block (an output it made up, a
second block) is cut: it did not see the real output yet.

Several trajectories advance in lock step (GEN×n for the first round, then one GEN and one
EXEC per live trajectory, gathered in order), so a resumed item replays the same steps.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from generation.recipes import kit
from generation.recipes.base import SeedRow
from generation.recipes.kit import answers
from generation.recipes.kit.results import Gen
from generation.sandbox import Result

STOP = ["```output"]
# An opening fence for Python, its code, and the closing fence (or the end of the reply).
_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*\n(?P<code>.*?)(?P<end>\n?[ \t]*```|\Z)",
                    re.DOTALL | re.IGNORECASE)  # fmt: skip


def problem(it: kit.Item[Any], kind: answers.Kind) -> tuple[str, str, answers.Kind]:
    """The item's qa seed as (question, gold answer, answer kind); no gold drops it."""
    seed: SeedRow = it.payload
    it.use_seeds(seed)
    question = str(seed.payload.get("question") or "").strip()
    gold = str(seed.payload.get("answer") or "").strip()
    it.check(bool(question and gold), "no_question_or_gold")
    return question, gold, answers.kind_of(gold) if kind == "auto" else kind


def python_block(text: str) -> tuple[str, str | None]:
    """(the reply up to the end of its first Python block, that block's code), or
    (the whole reply, None) when it has none. An unclosed block runs to the reply's end and
    gets its closing fence."""
    m = _BLOCK.search(text)
    if m is None or not m["code"].strip():
        return text.strip(), None
    head = text[: m.end()].rstrip()
    if not m["end"].strip():
        head += "\n```"
    return head, m["code"].strip("\n")


def clip(text: str, limit: int) -> str:
    """ToRA's cut of a long output: its head and tail around "..."."""
    text = text.strip()
    if len(text) <= limit:
        return text
    half = max(1, limit // 2)
    return f"{text[:half]}...{text[-half:]}"


def output_block(output: str) -> str:
    return f"```output\n{output}\n```"


@dataclass
class Round:
    text: str  # the reply up to the end of its Python block
    code: str
    output: str = ""

    @property
    def rationale(self) -> str:
        return self.text.split("```", 1)[0].strip()


@dataclass
class Trajectory:
    rounds: list[Round] = field(default_factory=list)
    final: str = ""
    answer: str | None = None
    failure: str = ""  # why it is dropped; "" while it runs and when it is right
    detail: str = ""
    done: bool = False

    @property
    def ok(self) -> bool:
        return self.done and not self.failure

    def fail(self, reason: str, detail: str = "") -> None:
        self.failure, self.detail, self.done = reason, detail, True

    def take(self, reply: str, finish: str, gold: str, kind: answers.Kind, cap: bool) -> None:
        """The model's next reply: a round to run, or the last reply (answer checked)."""
        if finish == "length":
            self.fail("truncated")
            return
        head, code = python_block(reply)
        if code is not None:
            if cap:
                self.fail("round_cap", f"still writing code after {len(self.rounds)} rounds")
            else:
                self.rounds.append(Round(head, code))
            return
        self.final, self.done = head, True
        self.answer = answers.extract(head, kind)
        if not head:
            self.fail("empty_reply")
        elif self.answer is None:
            self.fail("no_answer")
        elif not answers.matches(self.answer, gold, kind):
            self.fail("wrong_answer", f"{self.answer} (gold {gold})")

    def observe(self, result: Result, limit: int) -> None:
        """The sandbox's report on the last round: its output, or the trajectory is dropped."""
        if result.ok:
            self.rounds[-1].output = clip(result.stdout, limit)
        elif result.limit in ("timeout", "cpu"):
            self.fail("code_timeout", result.error)
        elif result.limit:
            self.fail("code_limit", result.error)
        else:
            self.fail("code_raised", result.error)

    def messages(self, prompt: str) -> list[dict[str, Any]]:
        """The chat so far: the prompt, then each round's reply and its output block."""
        chat: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        for r in self.rounds:
            chat += [
                {"role": "assistant", "content": r.text},
                {"role": "user", "content": output_block(r.output)},
            ]
        return chat

    def text(self) -> str:
        """The whole trajectory as one reply, outputs interleaved (ToRA-Corpus's form)."""
        parts = [f"{r.text}\n{output_block(r.output)}\n" for r in self.rounds]
        return "".join(parts) + self.final

    def steps(self) -> list[dict[str, Any]]:
        """One entry per round for review: rationale, the code run, its output."""
        return [
            {"thought": r.rationale, "action": {"name": "python", "arguments": {"code": r.code}},
             "observation": r.output, "error": False}
            for r in self.rounds
        ]  # fmt: skip


@dataclass(frozen=True)
class Ask:
    """How one batch of trajectories is sampled and run."""

    question: str
    prompt: str  # the question in the solve template, as the first GEN sent it
    gold: str
    kind: answers.Kind
    rounds: int
    options: dict[str, Any]  # temperature, top_p, max_tokens
    output_chars: int
    wall_s: float


async def roll(it: kit.Item[Any], ask: Ask, n: int) -> list[Trajectory]:
    """n trajectories for the question, grown in lock step until each is done or dropped."""
    options = {**ask.options, "stop": STOP}
    first = await it.gen("solve", question=ask.question, n=n, **options)
    trajectories = [Trajectory() for _ in first.texts]
    replies = [(i, text, finish_of(first, i)) for i, text in enumerate(first.texts)]
    for turn in range(ask.rounds + 1):
        for i, text, finish in replies:
            trajectories[i].take(text, finish, ask.gold, ask.kind, cap=turn >= ask.rounds)
        running = [i for i, t in enumerate(trajectories) if not t.done]
        results = await asyncio.gather(
            *(it.exec(trajectories[i].rounds[-1].code, wall_s=ask.wall_s) for i in running)
        )
        for i, result in zip(running, results, strict=True):
            trajectories[i].observe(result, ask.output_chars)
        live = [i for i in running if not trajectories[i].done]
        if not live:
            break
        made = await asyncio.gather(
            *(it.gen(messages=trajectories[i].messages(ask.prompt), **options) for i in live)
        )
        replies = [(i, g.text, finish_of(g, 0)) for i, g in zip(live, made, strict=True)]
    return trajectories


def finish_of(gen: Gen, k: int) -> str:
    return str(gen.finish_reasons[k] or "") if k < len(gen.finish_reasons) else ""


def worst(trajectories: list[Trajectory]) -> tuple[str, str]:
    """The drop reason of a problem none of whose trajectories is right: the most common."""
    reasons = Counter(t.failure for t in trajectories if t.failure)
    reason = reasons.most_common(1)[0][0] if reasons else "no_trajectory"
    detail = next((t.detail for t in trajectories if t.failure == reason), "")
    return reason, detail

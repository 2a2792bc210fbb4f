"""CoT-Self-Instruct's parsing and its RIP pool (a run-level pool of lowest response scores).

RIP keeps a prompt when the lowest score among its responses clears a percentile of the
lowest scores of the prompts seen so far. Those scores live in the run's state, keyed by
work item, so they persist across slices and a resumed item replaces its own entry instead
of adding a second. The state is written by the driver's flush on its database thread while
items go on running, so the pool is replaced, never changed in place.
"""

from __future__ import annotations

import math
import re
from typing import Any

from generation.recipes.kit import answers

STATE_KEY = "cot_self_instruct"
POOL_LIMIT = 5000  # at most this many prompts' scores kept (a bound, not a recency window)
_LABELS = {"question": "question|problem", "prompt": "prompt|instruction|task"}


def tagged(text: str, tag: str) -> tuple[str, str]:
    """(the reasoning before the block, the last <tag>…</tag> block); an unclosed one counts.

    Small models often write "New question: …" (or "**Prompt:** …") instead of the tags: a
    line labelled with the tag's name counts too, up to the next labelled line or \\boxed.
    """
    opened = list(re.finditer(rf"<{tag}>", text, re.IGNORECASE))
    if not opened:
        return _labelled(text, tag)
    start = opened[-1].end()
    end = re.search(rf"</{tag}>|<(?!/)\w+>", text[start:], re.IGNORECASE)
    body = text[start : start + end.start()] if end else text[start:]
    return text[: opened[-1].start()].strip(), body.strip()


def _labelled(text: str, tag: str) -> tuple[str, str]:
    names = _LABELS.get(tag, tag)
    label = re.compile(rf"^[\s*#_]*(?:new\s+|final\s+)?(?:{names})[\s*_]*:[\s*_]*", re.I | re.M)
    found = list(label.finditer(text))
    if not found:
        return text.strip(), ""
    start = found[-1].end()
    end = re.search(r"^[\s*#_]*(?:new\s+|final\s+)?\w+[\s*_]*:|\\boxed", text[start:], re.I | re.M)
    body = text[start : start + end.start()] if end else text[start:]
    return text[: found[-1].start()].strip(), body.strip()


def new_question(text: str) -> tuple[str, str, str | None]:
    """(plan, question, final answer) from a verifiable-task generation.

    The answer is the \\boxed{} of the <answer> block, else that block's text, else the last
    \\boxed{} after the question.
    """
    plan, question = tagged(text, "question")
    _, block = tagged(text, "answer")
    if not block and question:
        block = text[text.rfind(question) + len(question) :]
        answer = answers.last_boxed(block)
        return plan, question, answer.strip() or None if answer is not None else None
    answer = answers.last_boxed(block) if block else None
    answer = (answer if answer is not None else block).strip()
    return plan, question, answer or None


def admit(state: dict[str, Any], key: str, low: float) -> list[float]:
    """Put an item's lowest score in the run's pool; the pool's scores, this one included."""
    mine = state.get(STATE_KEY, {})
    pool = {k: v for k, v in mine.get("rip", {}).items() if k != key}
    pool[key] = low
    if len(pool) > POOL_LIMIT:
        pool = dict(list(pool.items())[-POOL_LIMIT:])
    state[STATE_KEY] = {**mine, "rip": pool}
    return [float(v) for v in pool.values()]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between ranks: q=50 is the median."""
    ranked = sorted(values)
    pos = (len(ranked) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ranked[lo] + (ranked[hi] - ranked[lo]) * (pos - lo)

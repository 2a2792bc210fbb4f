"""Agent trajectories as training rows: step labels (PRM-style) and good-vs-bad pairs.

Pure: the streams (trajectory_streams.py) feed it plain data. The steps are
curation.review.steps's: extra["steps"] when the recipe stored them, else each assistant
turn with its tool calls and their results.
"""

from __future__ import annotations

import json
from typing import Any

from curation.exports.formats import Msgs, Pair, Row, Src
from curation.review.steps import Step, prompt_of, steps_of, stored_steps

STEP_LABEL_RULES = """\
One row per trajectory: `prompt` (the messages before the agent's first step), `tools`
(when the sample has them), `steps` (each `{"thought", "actions": [{"name", "arguments"}],
"observations", "error"}`), `labels` (one per step: 1 right, -1 wrong, 0 unlabelled),
`label_source`, `first_wrong_step` (counted from 1, or null), `success` and `score` (the
env checker's verdict, or null), and `trajectory_id` when the recipe gave one.

- A person's mark: steps before the first wrong step are 1, that step is -1, the steps
  after it 0 (nothing is known about them once the agent went wrong). An accept without
  a mark says every step is right (all 1). `label_source`: `human`.
- Several annotators: each step is labelled as most of them label it, a tie counting as
  wrong: the first wrong step is the lower median of theirs (an accept without a mark
  counts as "after the last step"). A curator's adjudication decides the sample's status,
  not its step labels.
- A reject without a mark says only that the outcome is wrong: when no annotator labelled
  the steps, the last step is -1 and the others 0 (`human:outcome`).
- No person: the env checker's verdict (`env`). Success: every step 1. Failure: the last
  step -1 and the others 0, since the checker judges the end state, not where the agent
  went wrong (`first_wrong_step` stays null).
- An imported row keeps its labels and source. Neither a person nor a verdict: left out
  (`no_step_labels`)."""

PAIR_RULES = """\
Pairs of trajectories of one task: the same `trajectory_id`, else the same env task, else
the same seeds. A trajectory *succeeded* when a person accepted it (not a run's automatic
accept), or else when the env checker says success; it *failed* when a person rejected it
(a duplicate reject never counts), or else when the checker says failure. Each succeeded
trajectory that the filters select (statuses default to accepted and pending) is paired
with each failed one of its task (any status): `prompt` is the messages they share from
the start, up to the first step where they differ; `chosen` and `rejected` are the two
continuations (assistant turns, tool calls and tool results); `tools` the chosen
trajectory's tools. `source`: `trajectory:env` (both outcomes from the checker),
`trajectory:human` (both from people) or `trajectory:human+env`; scores (option
`include_scores`) are the checker's. Preference samples whose sides are trajectories
(e.g. Magnet's constructed negatives) are written as in `dpo_conversational`."""


def _labels(first_wrong: int, n: int) -> list[int]:
    return [1 if i < first_wrong else -1 if i == first_wrong else 0 for i in range(1, n + 1)]


def lower_median(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def labelled(
    reviews: list[Any], n: int, extra: dict[str, Any]
) -> tuple[list[int], str, int | None] | None:
    """(labels, label_source, first_wrong_step) by the rules above; None: unlabelled.
    `reviews`: [first_wrong_step or None, decision] per review of the sample."""
    votes: list[int] = []
    rejected = False
    for review in reviews:
        if not isinstance(review, list) or len(review) != 2:
            continue
        mark, decision = review
        if isinstance(mark, int) and 1 <= mark <= n:
            votes.append(mark)
        elif decision == "accept":
            votes.append(n + 1)
        elif decision == "reject":
            rejected = True
    if votes:
        k = lower_median(votes)
        return _labels(k, n), "human", (k if k <= n else None)
    if rejected:
        return [0] * (n - 1) + [-1], "human:outcome", None
    imported = extra.get("step_labels")
    if isinstance(imported, dict) and _valid_labels(imported.get("labels"), n):
        wrong = imported.get("first_wrong_step")
        return (
            list(imported["labels"]),
            str(imported.get("source") or "import"),
            wrong if isinstance(wrong, int) and not isinstance(wrong, bool) else None,
        )
    success = verdict(extra)[0]
    if success is None:
        return None
    return ([1] * n if success else [0] * (n - 1) + [-1]), "env", None


def _valid_labels(labels: Any, n: int) -> bool:
    return (
        isinstance(labels, list)
        and len(labels) == n
        and all(x in (-1, 0, 1) and not isinstance(x, bool) for x in labels)
    )


def verdict(extra: dict[str, Any]) -> tuple[bool | None, float | None]:
    env = extra.get("env")
    v = env.get("verdict") if isinstance(env, dict) else None
    if not isinstance(v, dict):
        return None, None
    success = v.get("success") if isinstance(v.get("success"), bool) else None
    score = v.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float):
        return success, None
    return success, float(score)


def step_labels_row(s: Src, reviews: list[Any]) -> Row | str:
    found = steps_of(s.messages, s.extra)
    if not found:
        return "no_steps"
    labels = labelled(reviews, len(found), s.extra)
    if labels is None:
        return "no_step_labels"
    success, score = verdict(s.extra)
    row: Row = {"prompt": prompt_of(s.messages)}
    if s.tools:
        row["tools"] = s.tools
    row |= {
        "steps": found,
        "labels": labels[0],
        "label_source": labels[1],
        "first_wrong_step": labels[2],
        "success": success,
        "score": score,
    }
    tid = s.extra.get("trajectory_id")
    if isinstance(tid, str | int) and not isinstance(tid, bool):
        row["trajectory_id"] = tid
    return row


def _messages_of(prompt: Msgs, found: list[Step]) -> Msgs:
    """The OpenAI messages a step-labelled row stands for: per step an assistant turn with
    its calls (numbered call_1, call_2, ...) and a tool message per observation."""
    out, n = list(prompt), 0
    for step in found:
        calls = []
        for action in step["actions"]:
            n += 1
            args = action["arguments"]
            text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            calls.append(
                {"id": f"call_{n}", "type": "function",
                 "function": {"name": action["name"], "arguments": text}}
            )  # fmt: skip
        turn: dict[str, Any] = {"role": "assistant", "content": step["thought"] or None}
        if calls:
            turn["tool_calls"] = calls
        elif turn["content"] is None:
            turn["content"] = ""
        out.append(turn)
        for call, observation in zip(calls, step["observations"], strict=False):
            out.append({"role": "tool", "tool_call_id": call["id"], "content": observation})
    return out


def step_labels_draft(record: dict[str, Any], where: str) -> dict[str, Any]:
    """A step-labelled row as sample fields (kind, messages, tools, extra): the steps and
    labels go to extra, so exporting the imported sample gives the same row."""
    prompt, labels = record.get("prompt"), record.get("labels")
    found = stored_steps({"steps": record.get("steps")})
    if not isinstance(prompt, list) or not all(isinstance(m, dict) for m in prompt):
        raise ValueError(f"{where}: field 'prompt' must be a list of messages")
    if found is None or len(found) != len(record.get("steps") or []):
        raise ValueError(f"{where}: field 'steps' must be a non-empty list of step objects")
    if not _valid_labels(labels, len(found)):
        raise ValueError(f"{where}: field 'labels' must hold 1, 0 or -1 for each step")
    extra: dict[str, Any] = {
        "steps": found,
        "step_labels": {
            "labels": labels,
            "source": str(record.get("label_source") or "import"),
            "first_wrong_step": record.get("first_wrong_step"),
        },
    }
    success, score = record.get("success"), record.get("score")
    if isinstance(success, bool):
        extra["env"] = {"verdict": {"success": success, "score": score}}
    if "trajectory_id" in record:
        extra["trajectory_id"] = record["trajectory_id"]
    tools = record.get("tools")
    return {
        "kind": "tool_trajectory",
        "messages": _messages_of(prompt, found),
        "tools": tools if isinstance(tools, list) else None,
        "extra": extra,
    }


def outcome(status: str, auto_accepted: bool, extra: dict[str, Any]) -> tuple[bool, str] | None:
    """(succeeded, decided by "human" | "env"), or None when nobody knows."""
    if status == "rejected":
        return False, "human"
    if status == "accepted" and not auto_accepted:
        return True, "human"
    success = verdict(extra)[0]
    return None if success is None else (success, "env")


def shared_prefix(good: Msgs, bad: Msgs) -> int:
    """How many leading messages both share, ending where both continue with the agent."""
    n = 0
    while n < min(len(good), len(bad)) and good[n] == bad[n]:
        n += 1
    while n > 0 and not (
        n < len(good) and n < len(bad) and good[n].get("role") == bad[n].get("role") == "assistant"
    ):
        n -= 1
    return n


def trajectory_pair(
    good: Msgs,
    bad: Msgs,
    by: tuple[str, str],
    ids: tuple[int, int],
    scores: tuple[float | None, float | None],
    tools: list[Any] | None,
) -> Pair | str:
    n = shared_prefix(good, bad)
    if n == 0 or not any(m.get("role") == "user" for m in good[:n]):
        return "no_shared_prompt"
    if good[n:] == bad[n:]:
        return "same_trajectory"
    source = f"trajectory:{by[0]}" if by[0] == by[1] else "trajectory:human+env"
    return Pair(good[:n], good[n:], bad[n:], source, ids, scores[0], scores[1], tools or None)

"""Auto Evol-Instruct's optimisation loop (METHODS.md #12 ①-⑤), run by one work item.

Each iteration: ① evolve a mini-batch of seeds `evolve_steps` times with the current
method (a trajectory per seed) → ② the optimizer LLM lists the issues of each trajectory
→ ③ it writes `n_methods` candidate methods from them → ④ each candidate evolves the dev
set and answers the rewrites; the failure detector scores its failure rate → ⑤ the
candidate with the lowest rate becomes the current method. Every phase is one gather of
single steps, so the item's journal replays in the same order after a resume.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from generation.recipes.auto_evol_instruct_method import (
    answer_format,
    failure,
    failure_rate,
    final_instruction,
    method_text,
    parse_method,
    parse_steps,
)
from generation.recipes.kit.seeds import seed_prompt
from generation.recipes.prompts import PromptError

T = TypeVar("T")
MAX_ISSUES = 12
_ISSUE = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+(.{6,400})$")
UNPARSED_ISSUE = (
    "A rewrite did not follow the steps' format, so no final instruction could be read."
)


@dataclass
class Optimised:
    method: str
    failure_rate: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


async def evolve(it: Any, method: str, instruction: str) -> str | None:
    """One evolution of an instruction with a method: the final instruction, or None."""
    p = it.params
    got = await it.gen("evolve", method=method, instruction=instruction,
                       format=answer_format(parse_steps(method)), temperature=p.temperature,
                       max_tokens=p.max_tokens)  # fmt: skip
    return final_instruction(got.text)


async def respond(it: Any, instruction: str) -> str:
    p = it.params
    got = await it.gen(
        "respond", instruction=instruction, temperature=p.temperature, max_tokens=p.max_tokens
    )
    return str(got.text).strip()


async def trajectories(it: Any, method: str, seeds: list[str]) -> list[list[str | None]]:
    """① Each seed evolved `evolve_steps` times in turn; a None ends its trajectory."""
    paths: list[list[str | None]] = [[s] for s in seeds]
    for _ in range(it.params.evolve_steps):
        live = [path for path in paths if path[-1] is not None]
        if not live:
            break
        done = await asyncio.gather(*(evolve(it, method, str(path[-1])) for path in live))
        for path, evolved in zip(live, done, strict=True):
            path.append(evolved)
    return paths


def describe(path: list[str | None]) -> str:
    lines = [f"Original instruction:\n{path[0]}"]
    for i, stage in enumerate(path[1:], 1):
        shown = stage if stage is not None else "(no rewrite could be read from the answer)"
        lines.append(f"Round {i}:\n{shown}")
    return "\n\n".join(lines)


def parse_issues(text: str) -> list[str]:
    """The "- issue" lines of an analysis; none when it says ### PASSED."""
    if "### passed" in text.lower():
        return []
    found = (_ISSUE.match(line) for line in text.splitlines())
    return [m.group(1).strip() for m in found if m]


async def analyse(it: Any, paths: list[list[str | None]]) -> list[str]:
    """② The optimizer's issues over all trajectories, without repeats."""
    ask: dict[str, Any] = {"role": "optimizer", "temperature": 0.0, "max_tokens": 512}
    replies = await asyncio.gather(
        *(it.gen("analyse", trajectory=describe(path), **ask) for path in paths)
    )
    issues: list[str] = []
    if any(None in path for path in paths):
        issues.append(UNPARSED_ISSUE)
    for reply in replies:
        issues.extend(i for i in parse_issues(reply.text) if i not in issues)
    return issues[:MAX_ISSUES]


async def propose(it: Any, method: str, issues: list[str]) -> list[str]:
    """③ Candidate methods; those that do not parse as a method are counted and left out."""
    p = it.params
    feedback = "\n".join(f"- {i}" for i in issues) or "### PASSED"
    got = await it.gen("optimize", role="optimizer", n=p.n_methods, method=method,
                       feedback=feedback, temperature=p.optimizer_temperature,
                       max_tokens=p.max_tokens)  # fmt: skip
    out: list[str] = []
    for text in got.texts:
        try:
            candidate = method_text(parse_method(text))
        except PromptError:
            it.count("unparsable_method")
            continue
        if candidate != method and candidate not in out:
            out.append(candidate)
    return out


async def score(it: Any, candidates: list[str], dev: list[str]) -> list[float]:
    """④ Each candidate's failure rate on the dev set (its rewrites and their answers)."""
    jobs = [(c, d) for c in candidates for d in dev]
    evolved = await asyncio.gather(*(evolve(it, c, d) for c, d in jobs))
    answerable = [i for i, e in enumerate(evolved) if failure(jobs[i][1], e, None) is None]
    answers = await asyncio.gather(*(respond(it, str(evolved[i])) for i in answerable))
    replies: dict[int, str] = dict(zip(answerable, answers, strict=True))
    reasons = [failure(d, evolved[i], replies.get(i)) for i, (_, d) in enumerate(jobs)]
    n = len(dev)
    return [round(failure_rate(reasons[k * n : (k + 1) * n]), 4) for k in range(len(candidates))]


async def optimise(it: Any, method: str) -> Optimised:
    """①-⑤ for `optimize_steps` iterations, from `method`; the best method found."""
    p = it.params
    out = Optimised(method)
    dev = [seed_prompt(s) for s in await it.sample(it.seeds, p.dev_size)]
    for step in range(1, p.optimize_steps + 1):
        batch = [seed_prompt(s) for s in await it.sample(it.seeds, p.mini_batch)]
        issues = await analyse(it, await trajectories(it, out.method, batch))
        candidates = await propose(it, out.method, issues)
        entry: dict[str, Any] = {"step": step, "issues": issues, "failure_rates": []}
        if candidates:
            rates = await score(it, candidates, dev)
            best = min(range(len(candidates)), key=lambda i: (rates[i], i))
            out.method, out.failure_rate = candidates[best], rates[best]
            entry.update(failure_rates=rates, chosen=best)
        out.history.append(entry)
    return out


async def in_db(host: Any, fn: Callable[..., T], *args: Any) -> T:
    """Run a database function from the slice's event loop, on the driver's database thread
    (kit.item.Host.in_db)."""
    return cast(T, await host.in_db(fn, *args))

"""The item loop of a slice: which work item starts next, running `make`, and what it left.

Work comes from the recipe's source (fresh items) and from the run's queue (items other
items spawned, and items left unfinished or failed by earlier slices). The loop keeps the
endpoint's concurrency full, starts no more than the remaining target needs (from the
yield measured so far), and turns each item's end into a `Finished` for the next flush.
It also keeps the run's futility streak: finished items in a row that made nothing.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from generation.llm import LLMError
from generation.recipes.base import SampleDraft
from generation.recipes.kit import confidence
from generation.recipes.kit.fmt import Out, Piece
from generation.recipes.kit.item import RAW_LIMIT, Drop, Fatal, Item
from generation.runs.store import Finished, Outcome


@dataclass
class Lane:
    """What items of one kind yield, measured as they finish (with a prior before that)."""

    prior: float  # samples per item, before any finished
    prior_spawns: float = 0.0  # spawned items per item, before any finished
    done: int = 0
    samples: int = 0
    spawned: int = 0

    def direct(self) -> float:
        return (self.samples + self.prior) / (self.done + 1)

    def spawn_rate(self) -> float:
        return (self.spawned + self.prior_spawns) / (self.done + 1)


class Queue:
    """Spawned and unfinished items, lowest priority number first, then in order."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, str, Any, str]] = []
        self._order = itertools.count()
        self.keys: set[str] = set()

    def push(self, key: str, payload: Any, lane: str, priority: int) -> None:
        if key not in self.keys:
            self.keys.add(key)
            heapq.heappush(self._heap, (priority, next(self._order), key, payload, lane))

    def pop(self) -> tuple[str, Any, str]:
        _, _, key, payload, lane = heapq.heappop(self._heap)
        return key, payload, lane

    def __len__(self) -> int:
        return len(self._heap)


def to_drafts(item: Item[Any], out: Out, model_for: Callable[[str], str]) -> list[SampleDraft]:
    """The kit's FMT: pieces → drafts with lineage, seeds, tokens split without loss.

    A sample's model is that of the role that wrote it (`Piece.role`, default policy)."""
    pieces = [] if out is None else [out] if isinstance(out, Piece) else list(out)
    suffixes = [p.suffix for p in pieces]
    if len(set(suffixes)) != len(suffixes):
        raise ValueError(f"item {item.key}: pieces need distinct suffixes, got {suffixes}")
    tin, tout = item.tokens
    n = max(1, len(pieces))
    last: dict[str, Any] = next((c for c in reversed(item.calls) if c.get("version")), {})
    lineage = {
        "calls": item.calls,
        "prompts": {c["template"]: c["version"] for c in item.calls if c.get("template")},
        "resumed_steps": item.replayed,
    }
    drafts = []
    for i, p in enumerate(pieces):
        drafts.append(
            SampleDraft(
                work_key=f"{item.key}:{p.suffix}" if p.suffix else item.key,
                kind=p.kind,
                messages=p.messages,
                chosen=p.chosen,
                rejected=p.rejected,
                label=p.label,
                tools=p.tools,
                step=p.step or str(last.get("template", "")),
                prompt_version=p.prompt_version or str(last.get("version", "")),
                model=model_for(p.role or "policy"),
                seed_ids=list(item.seed_ids),
                parent_key=p.parent_key,
                extra={**p.extra, "lineage": lineage},
                tokens_in=tin // n + (tin % n if i == 0 else 0),
                tokens_out=tout // n + (tout % n if i == 0 else 0),
                judge_score=p.judge_score,
                judge_confidence=p.confidence
                if p.confidence is not None
                else confidence.lowest(j.confidence for j in p.judgements),
                judgements=p.judgements,
                tags=sample_tags(p.extra.get("tags")),
            )
        )
    return drafts


def sample_tags(raw: Any) -> list[str]:
    """A piece's extra["tags"] as Sample.tags: strings only, once each, 64 characters."""
    if not isinstance(raw, list):
        return []
    return list(dict.fromkeys(t.strip()[:64] for t in raw if isinstance(t, str) and t.strip()))


async def run_item(driver: Any, item: Item[Any]) -> Finished:
    """One item to its end. A Drop is a filter; an LLMError a failure (journal kept)."""
    try:
        out = await driver.recipe.make(item)
    except Drop as drop:
        return Finished(
            item.key,
            Outcome.FILTERED,
            drop.reason,
            drop.detail,
            _clip(item.last_output),
        )
    except Fatal as exc:
        driver.fatal_error = driver.fatal_error or str(exc)
        return Finished(item.key, Outcome.FAILED, "fatal", str(exc), _clip(item.last_output))
    except LLMError as exc:
        driver.note_failure(exc)
        return Finished(
            item.key,
            Outcome.FAILED,
            type(exc).__name__,
            str(exc),
            _clip(item.last_output),
            checkpoint=item.journal,
        )
    driver.note_success()
    drafts = to_drafts(item, out, driver.model_for)
    reason = "" if drafts else "spawned" if item.spawns else "nothing"
    outcome = Outcome.PRODUCED if drafts or item.spawns else Outcome.FILTERED
    return Finished(
        item.key,
        outcome,
        reason,
        raw_output="" if drafts else _clip(item.last_output),
        drafts=drafts,
    )


def _clip(text: str) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= RAW_LIMIT:
        return text
    return raw[: RAW_LIMIT - 3].decode("utf-8", "ignore") + "…"


class Scheduler:
    """Chooses what starts next: queued work first, fresh work to keep the queue fed."""

    def __init__(
        self,
        source: Iterator[tuple[str, Any]],
        done: set[str],
        prior: float,
        prior_spawns: float = 0.0,
    ) -> None:
        self.source = source
        self.done = done
        self.queue = Queue()
        self.source_left = True
        self.fresh = Lane(prior, prior_spawns)
        self.spawned = Lane(1.0)
        self.running_fresh = 0
        self.running_spawned = 0

    def expected(self) -> float:
        """Samples the work in flight should still make (what it spawns included).

        Queued work is not counted: it makes samples only once started, and `next` starts
        it first.
        """
        per_spawn = self.spawned.direct()
        per_fresh = self.fresh.direct() + self.fresh.spawn_rate() * per_spawn
        return self.running_fresh * per_fresh + self.running_spawned * per_spawn

    def next(self, max_inflight: int, need: float) -> tuple[str, Any, str] | None:
        """(key, payload, lane) of the next item, or None when nothing is left to start.

        `need` is the samples still wanted beyond what the work in flight should make.
        Queued work starts first, unless the queue runs thin (less than a round of slots,
        counting what fresh items in flight will add) while the need is not covered: then
        fresh work starts, refilling the queue one latency ahead, so slots never wait for it.
        """
        fresh_ok = self.source_left and need > len(self.queue) * self.spawned.direct()
        if len(self.queue):
            feeding = self.running_fresh * self.fresh.spawn_rate()
            if not (fresh_ok and len(self.queue) + feeding < max_inflight):
                return self.queue.pop()
        if not len(self.queue) and fresh_ok:
            # Fresh items in flight will fill the queue: more of them would only delay the
            # work they spawn (recipes that spawn nothing are never held back here).
            fresh_ok = self.running_fresh * self.fresh.spawn_rate() < max_inflight
        while fresh_ok and self.source_left:
            try:
                key, payload = next(self.source)
            except StopIteration:
                self.source_left = False
                break
            if key in self.done or key in self.queue.keys:
                continue
            self.done.add(key)
            return key, payload, ""
        return self.queue.pop() if len(self.queue) else None

    def finished(self, lane: str, samples: int, spawned: int) -> None:
        stats = self.spawned if lane else self.fresh
        stats.done += 1
        stats.samples += samples
        stats.spawned += spawned


async def cancel(tasks: set[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

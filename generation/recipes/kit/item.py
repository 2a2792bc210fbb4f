"""The per-item context: every step a recipe takes runs here, and is journaled.

`make(it)` calls steps (`it.gen`, `it.judge`, `it.pairj`, `it.score_text`, `it.sample`,
`it.dedup_l`, `it.dedup_e`, `it.spawn`, `it.sim`, `it.compute`); each gets the next ordinal
within the item and its result is appended to the item's journal. The driver writes journals
of unfinished items in its normal flush (RunItem.checkpoint), so an item cut off by a slice
boundary or a crash resumes in the next slice: steps already in the journal return their
recorded result without calling the model again, and the code after them runs as before.
Randomness comes from `it.rng`, seeded by run and key, so a replayed item takes the same path.

The Item records the role, model, template version and tokens of every call it makes;
the kit (not the recipe) turns that into the sample's lineage and token counts.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar, cast

from generation.envs.base import Env
from generation.envs.episode import Episode
from generation.llm import LLMClient
from generation.recipes.base import SeedRow
from generation.recipes.kit import calls
from generation.recipes.kit.calls import CURRENT, OPTIONS, call_record, compute_with, to_gen
from generation.recipes.kit.pools import Admitted, EmbeddingPool, RougePool
from generation.recipes.kit.results import Gen, Judged, Novelty, PairVerdict, Vote
from generation.recipes.kit.scoring import ScoringSteps
from generation.recipes.prompts import PromptTemplate
from generation.sandbox import Limits, Result, run
from generation.sim import Agent, Conversation, simulate
from generation.tools.simulator import ToolResult, call_tool

P = TypeVar("P")
V = TypeVar("V")
RAW_LIMIT = 4096  # bytes of raw model output kept on a filtered or failed item


class Drop(Exception):
    """The item is filtered: no sample, a reason for the run's counts, the raw output kept."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class Fatal(Exception):
    """The run cannot go on (an endpoint lacks what the method needs): it fails with this
    message at once, instead of item after item failing the same way."""


class Host(Protocol):
    """What the driver offers every item of a slice (generation/runs/items.py)."""

    run_id: int
    target: int
    seeds: list[SeedRow]
    prompts: dict[str, PromptTemplate]
    state: dict[str, Any]
    pools: dict[str, RougePool | EmbeddingPool]
    admitted: list[Admitted]

    def client(self, role: str) -> tuple[LLMClient, str, str]: ...  # client, model, endpoint key
    def seed(self, seed_id: int) -> SeedRow: ...
    async def in_db(self, fn: Callable[..., V], *args: Any) -> V: ...  # the slice's DB thread


class Item(ScoringSteps, Generic[P]):
    def __init__(
        self,
        host: Host,
        key: str,
        payload: Any,
        params: P,
        *,
        lane: str = "",
        journal: list[dict[str, Any]] | None = None,
    ) -> None:
        self.host, self.key, self.payload, self.params, self.lane = host, key, payload, params, lane
        self.rng = random.Random(f"{host.run_id}:{key}")
        # Ordinal → entry. Concurrent steps (asyncio.gather) finish out of order, so
        # entries are keyed by the ordinal the step got when it started.
        self._entries: dict[int, dict[str, Any]] = {e["i"]: e for e in journal or []}
        self.dirty = False  # entries changed since the driver last saved them
        self.dirty_since = 0.0  # monotonic time of the oldest unsaved change
        self.replayed = 0
        self.calls: list[dict[str, Any]] = []
        self.spawns: list[dict[str, Any]] = []
        self.seed_ids: list[int] = []
        self.counts: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self.last_output = ""
        self._cursor = 0

    # -- what recipes read ---------------------------------------------------------------

    @property
    def seeds(self) -> list[SeedRow]:
        return self.host.seeds

    @property
    def tokens(self) -> tuple[int, int]:
        return sum(c["tokens_in"] for c in self.calls), sum(c["tokens_out"] for c in self.calls)

    def use_seeds(self, *seeds: SeedRow) -> None:
        """Record seeds the item's samples come from (it.sample over seeds does this itself)."""
        for s in seeds:
            if s.id not in self.seed_ids:
                self.seed_ids.append(s.id)

    def count(self, reason: str, n: int = 1) -> None:
        """A filter that removed part of an item (a line, a candidate): counted at its end."""
        self.counts[reason] += n

    def note(self, name: str, n: int = 1) -> None:
        """Something worth counting that removed nothing (an optional filter skipped)."""
        self.notes[name] += n

    # -- the journal ---------------------------------------------------------------------

    @property
    def journal(self) -> list[dict[str, Any]]:
        return [self._entries[i] for i in sorted(self._entries)]

    async def _step(
        self,
        op: str,
        compute: Callable[[], Awaitable[V]],
        encode: Callable[[V], Any],
        decode: Callable[[Any], V],
    ) -> V:
        i = self._cursor
        self._cursor += 1
        entry = self._entries.get(i)
        if entry is not None and entry["op"] == op:
            self.replayed += 1
            self.calls.extend(entry.get("calls", []))
            value = decode(entry["v"])
            self._remember(value)
            return value
        if entry is not None:  # the code took another path than last time: redo from here
            for later in [k for k in self._entries if k >= i]:
                del self._entries[later]
            self._touch()
        stop_here = getattr(self.host, "stop_at_step", None)
        if stop_here is not None and stop_here():
            # Past the slice's end: park before this step instead of starting a call that
            # would be cut off; the driver cancels the item and it resumes here next slice.
            await asyncio.Event().wait()
        calls: list[dict[str, Any]] = []
        counting = hasattr(self.host, "active_steps")
        if counting:
            self.host.active_steps += 1  # type: ignore[attr-defined]
        try:
            value = await compute_with(calls, compute)
        finally:
            if counting:
                self.host.active_steps -= 1  # type: ignore[attr-defined]
        self._entries[i] = {"i": i, "op": op, "v": encode(value), "calls": calls}
        self.calls.extend(calls)
        self._touch()
        self._remember(value)
        return value

    def _touch(self) -> None:
        if not self.dirty:
            self.dirty, self.dirty_since = True, time.monotonic()

    def _step_calls(self) -> list[dict[str, Any]]:
        current = CURRENT.get()
        return current if current is not None else self.calls

    def _kit(self, name: str) -> list[str]:
        """A list the kit keeps in the run's state (endpoints found to lack something)."""
        return cast("list[str]", self.host.state.setdefault("kit", {}).setdefault(name, []))

    def _remember(self, value: Any) -> None:
        if isinstance(value, Gen) and value.texts:
            self.last_output = value.texts[0]
        elif isinstance(value, Judged | PairVerdict) and value.raw:
            self.last_output = value.raw[-1]

    # -- GEN ------------------------------------------------------------------------------

    async def gen(
        self,
        template: str | None = None,
        *,
        messages: list[dict[str, Any]] | None = None,
        role: str = "policy",
        n: int = 1,
        api: str = "chat",
        system: str | None = None,
        **values: Any,
    ) -> Gen:
        """GEN / GEN×n: render `template` with `values` (or send `messages`) to `role`.

        api="completions" sends the rendered text to /v1/completions; "auto" does so and
        falls back to chat (remembered for the run) where the endpoint has no such API.
        Sampling options (temperature, top_p, max_tokens, stop, presence_penalty, seed,
        logprobs, top_logprobs, json_schema, tools, tool_choice) pass through to llm.py.
        """
        options = {k: values.pop(k) for k in list(values) if k in OPTIONS}

        async def compute() -> Gen:
            return await self._call(template, messages, role, n, api, system, options, values)

        return await self._step("gen", compute, Gen.to_json, Gen.from_json)

    async def _call(
        self,
        template: str | None,
        messages: list[dict[str, Any]] | None,
        role: str,
        n: int,
        api: str,
        system: str | None,
        options: dict[str, Any],
        values: dict[str, Any],
        op: str = "gen",
    ) -> Gen:
        conn = self.host.client(role)
        messages, version = calls.render(self.host.prompts, template, messages, values, system)
        purpose = "judge" if op != "gen" else "generate"
        done = await calls.send(conn, messages, n, api, purpose, options, self._kit("chat_only"))
        self._step_calls().append(
            call_record(
                op, role, done.model, template or "", version, done.tokens_in, done.tokens_out
            )
        )
        return to_gen(done, role, template or "", version)

    # -- VOTE, CHECK (JUDGE, PAIRJ and PLP are in kit/scoring.py) -----------------------

    @staticmethod
    def vote(texts: Sequence[str], extract: Callable[[str], str | None]) -> Vote:
        """VOTE: majority over the extracted answers (unextractable ones count as no vote)."""
        return Vote.of(texts, extract)

    def check(self, ok: bool, reason: str, detail: str = "") -> None:
        """CHECK: a rule filter. A failed check drops the item with `reason`."""
        if not ok:
            raise Drop(reason, detail)

    # -- SAMPLE, DEDUP-L, DEDUP-E, spawn --------------------------------------------------

    async def sample(self, pool: Sequence[V], k: int) -> list[V]:
        """SAMPLE(k): k distinct items of pool, by the item's rng; seeds are recorded."""
        items = list(pool)
        # Its own rng, from the step's ordinal: a replayed sample must not shift it.rng.
        rng = random.Random(f"{self.host.run_id}:{self.key}:{self._cursor}")

        async def compute() -> list[V]:
            return rng.sample(items, min(k, len(items)))

        def decode(raw: list[Any]) -> list[Any]:
            return calls.decode_picks(raw, self.host.seed)

        picked = await self._step("sample", compute, calls.encode_picks, decode)
        self.use_seeds(*(p for p in picked if isinstance(p, SeedRow)))
        return picked

    async def dedup_l(self, pool: str, text: str) -> Novelty:
        """DEDUP-L: ROUGE-L against the run's pool; a novel text joins the pool."""
        target = self.host.pools[pool]
        if not isinstance(target, RougePool):
            raise TypeError(f"pool {pool!r} is not a ROUGE-L pool")
        suffix = f"{self.key}#{self._cursor}"

        async def compute() -> Novelty:
            return target.admit(suffix, text, self.host.admitted)

        return await self._step("dedup", compute, Novelty.to_json, Novelty.from_json)

    async def dedup_e(self, pool: str, text: str) -> Novelty:
        """DEDUP-E: embedding cosine against the run's pool; a novel text joins the pool."""
        target = self.host.pools[pool]
        if not isinstance(target, EmbeddingPool):
            raise TypeError(f"pool {pool!r} is not an embedding pool")
        suffix = f"{self.key}#{self._cursor}"

        async def compute() -> Novelty:
            return await target.admit(suffix, text, self.host.admitted)

        return await self._step("dedup", compute, Novelty.to_json, Novelty.from_json)

    async def compute(self, op: str, fn: Callable[[], Awaitable[V]]) -> V:
        """A journaled local step (an embedding measure, …) with a JSON value: a resumed
        item reads it back instead of computing it again."""
        return await self._step(op, fn, lambda v: v, lambda v: v)

    async def spawn(self, key: str, payload: Any, *, lane: str = "", priority: int = 0) -> None:
        """A new work item for this run (JSON payload), queued when this item finishes."""
        spec = {"key": key, "payload": payload, "lane": lane, "priority": priority}

        async def compute() -> dict[str, Any]:
            return spec

        self.spawns.append(await self._step("spawn", compute, dict, dict))

    async def sim(self, agents: Sequence[Agent], **kwargs: Any) -> Conversation:
        """SIM: agents take turns (generation/sim); each turn is a GEN step of this item."""
        return await simulate(self, agents, **kwargs)

    async def exec(
        self, code: str, inputs: Any = None, *, entry: str | None = None, **limits: Any
    ) -> Result:
        """EXEC: run untrusted `code` in the sandbox (generation/sandbox), with `limits`
        (wall_s=2, memory_mb=256, …) over its defaults. What the program did comes back as
        a Result, never as an exception; a resumed item reads it back without running it."""
        lim = Limits.of(**limits)

        async def compute() -> Result:
            return await run(code, inputs, entry=entry, limits=lim)

        return await self._step("exec", compute, Result.to_json, Result.from_json)

    # TOOLSIM (generation/tools) and ENV (generation/envs): journaled steps like those above.

    async def tool(self, name: str, arguments: Any) -> ToolResult:
        """TOOLSIM: a tool call answered from the project's cache, the tool's implementation
        (sandbox) or an LLM playing it (generation/tools); one journaled step. The recipe's
        setup sets `run.tool_simulator = await simulator_for(run)`."""
        simulator = getattr(self.host, "tool_simulator", None)
        if simulator is None:
            raise Fatal(
                "it.tool needs a tool simulator: the recipe's setup sets "
                "run.tool_simulator = await simulator_for(run)"
            )
        return await call_tool(self, simulator, name, arguments)

    async def env(self, env: Env, task: dict[str, Any]) -> Episode:
        """ENV: an episode of `env` (generation/envs) on `task`. The reset, every
        `episode.step(name, arguments)` and `episode.check()` are journaled steps, each with
        the env's state after it, so a resumed item goes on from its last step."""
        episode = Episode(self, env)
        await episode.reset(task)
        return episode

"""TOOLSIM, StableToolBench-style (METHODS.md #32): every tool call gets an answer.

A call (tool name, arguments) is answered, in this order:

1. from the cache (generation/tools/cache.py), keyed by (project, tool, canonical arguments):
   the bytes stored, with source "cache" and the row's own source as `origin`;
2. else by the tool's Python implementation, run in the sandbox (and only there), its
   return value JSON-encoded; source "implementation";
3. else by an LLM that writes the response the tool would give, from the tool's
   documentation, the arguments and a few real cached responses of the same tool, with
   the tool's response schema as structured output (a JSON object where it has none);
   source "simulated".

A new answer from 2 or 3 is cached, so the same call is served the same bytes ever after.
An error is never cached: an implementation that raised or hit a sandbox limit, a
simulated response that is not valid JSON for the schema, an unknown tool, arguments that
are not a JSON object. Each is a ToolResult with ok False, whose `text` is {"error": ...},
ready to go back to the model as the tool message. An implementation's error is the
tool's answer: it is not handed to the LLM to paper over.

A Simulator serves one project for one slice (its DB access runs on the slice's DB thread,
`host.in_db`). `call_tool(it, simulator, name, arguments)` is the kit's step: one journaled
`it.compute("tool", ...)`, so a resumed item reads the result back and never calls again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import jsonschema

from generation import sandbox
from generation.llm import LLMClient, StructuredOutputError
from generation.recipes.prompts import PromptTemplate, builtin_templates
from generation.tools import cache
from generation.tools.cache import IMPLEMENTATION, SIMULATED, InDb, ToolCache
from generation.tools.definitions import ToolDef, tools_from_seeds

if TYPE_CHECKING:
    from generation.recipes.kit.item import Item

CACHE, REFUSED = "cache", "refused"  # served from the cache; answered by nothing
SOURCES = (CACHE, IMPLEMENTATION, SIMULATED, cache.RECORDED, REFUSED)
# Without a documented response schema a simulated response must still be a JSON object.
ANY_OBJECT: Mapping[str, Any] = {"type": "object"}
SIMULATOR_ROLE = "tool_simulator"  # falls back to policy where a run maps no such role
TEMPLATE_DIR, TEMPLATE = "toolsim", "simulate"
EXAMPLES = 3
OPTIONS: Mapping[str, Any] = {"temperature": 0.0, "max_tokens": 1024}

# (messages, response schema) -> the response as a JSON value; SimulationError if none valid.
Respond = Callable[[list[dict[str, Any]], Mapping[str, Any]], Awaitable[Any]]


class SimulationError(Exception):
    """The model gave no response that is valid JSON for the schema."""


@dataclass(frozen=True)
class ToolResult:
    tool: str
    arguments: str  # canonical JSON ("" when the arguments were not a JSON object)
    text: str  # the response exactly as served; {"error": ...} when not ok
    source: str  # cache | implementation | simulated | refused
    origin: str  # where the bytes first came from: the row's source for a cache hit
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def value(self) -> Any:
        return json.loads(self.text)

    def message(self, call_id: str) -> dict[str, Any]:
        """The `role: tool` message that answers the call `call_id`."""
        return {"role": "tool", "tool_call_id": call_id, "content": self.text}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolResult:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def failed(tool: str, arguments: str, source: str, error: str) -> ToolResult:
    return ToolResult(tool, arguments, cache.encode({"error": error}), source, source, error)


class Simulator:
    """The tools of one project's slice, answered by cache, implementation or LLM."""

    def __init__(
        self,
        project_id: int,
        in_db: InDb,
        tools: Iterable[ToolDef],
        *,
        examples: int = EXAMPLES,
        role: str = SIMULATOR_ROLE,
        template: PromptTemplate | None = None,
        options: Mapping[str, Any] = OPTIONS,
    ) -> None:
        self.cache = ToolCache(project_id, in_db)
        self.tools = {t.name: t for t in tools}
        self.examples, self.role, self.options = examples, role, dict(options)
        self.template = template or builtin_templates(TEMPLATE_DIR)[TEMPLATE]
        self._loaded: set[str] = set()
        self._lock = asyncio.Lock()

    def register(self, tool: ToolDef) -> None:
        """Add a tool made during the run (ToolAlpaca documents each item's tool itself).
        The same definition again changes nothing; another one under a name in use is
        refused with ValueError, so a cached answer always belongs to one documentation."""
        known = self.tools.get(tool.name)
        if known is not None and known != tool:
            raise ValueError(f"tool {tool.name!r} is already defined differently")
        self.tools[tool.name] = tool

    async def prepare(self) -> int:
        """Load every tool's recorded responses into the cache now (else on first use)."""
        return sum([await self._load_recorded(t) for t in self.tools.values()])

    async def call(self, name: str, arguments: Any, respond: Respond) -> ToolResult:
        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            return failed(name, "", REFUSED, f"unknown tool {name!r} (tools: {known})")
        try:
            args = cache.canonical(arguments)
        except ValueError as exc:
            return failed(name, "", REFUSED, str(exc))
        await self._load_recorded(tool)
        hit = await self.cache.lookup(name, cache.key_of(args))
        if hit is not None:
            return ToolResult(name, args, hit.text, CACHE, hit.source)
        if tool.implementation is not None:
            return await self._implement(tool, args, arguments)
        return await self._simulate(tool, args, respond)

    async def _load_recorded(self, tool: ToolDef) -> int:
        if not tool.recorded or tool.name in self._loaded:
            return 0
        async with self._lock:  # a racing call must not look up before the load is done
            if tool.name in self._loaded:
                return 0
            added = await self.cache.load_recorded(tool.name, list(tool.recorded))
            self._loaded.add(tool.name)
            return added

    async def _implement(self, tool: ToolDef, args: str, arguments: Any) -> ToolResult:
        impl = tool.implementation
        assert impl is not None
        result = await sandbox.run(impl.code, arguments, entry=impl.entry, limits=impl.limits)
        if not result.ok:
            return failed(tool.name, args, IMPLEMENTATION, result.error)
        return await self._keep(tool.name, args, cache.encode(result.value), IMPLEMENTATION)

    async def _simulate(self, tool: ToolDef, args: str, respond: Respond) -> ToolResult:
        schema = tool.response_schema or ANY_OBJECT
        shots = await self.cache.examples(tool.name, self.examples)
        prompt = self.template.render(
            tool=tool.name,
            documentation=documentation(tool),
            examples=_examples(shots),
            arguments=args,
        )
        try:
            value = await respond([{"role": "user", "content": prompt}], schema)
        except SimulationError as exc:
            return failed(tool.name, args, SIMULATED, f"no valid simulated response: {exc}")
        problem = invalid(value, schema)
        if problem:
            return failed(tool.name, args, SIMULATED, f"the simulated response {problem}")
        return await self._keep(tool.name, args, cache.encode(value), SIMULATED)

    async def _keep(self, tool: str, args: str, text: str, source: str) -> ToolResult:
        row = await self.cache.store(tool, args, text, source)
        if row.inserted:
            return ToolResult(tool, args, row.text, source, source)
        return ToolResult(tool, args, row.text, CACHE, row.source)  # another caller won


def documentation(tool: ToolDef) -> str:
    """The tool as the simulating model reads it."""
    lines = [f"Name: {tool.name}"]
    if tool.description:
        lines.append(f"Description: {tool.description}")
    lines.append("Arguments (JSON Schema): " + json.dumps(tool.parameters, ensure_ascii=False))
    if tool.response_schema is not None:
        schema = json.dumps(tool.response_schema, ensure_ascii=False)
        lines.append(f"Response (JSON Schema): {schema}")
    else:
        lines.append("Response: a JSON object (its format is not documented).")
    return "\n".join(lines)


def _examples(shots: list[tuple[str, str]]) -> str:
    if not shots:
        return ""
    parts = ["", "Real responses of this tool:"]
    for arguments, response in shots:
        parts += [f"Arguments: {arguments}", f"Response: {response}", ""]
    return "\n".join(parts)


def invalid(value: Any, schema: Mapping[str, Any]) -> str:
    """What is wrong with `value` under `schema` ("" when nothing)."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return ""
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    return f"does not match the response schema at {where}: {error.message[:300]}"


# -- how the simulating model is reached ------------------------------------------------


def item_responder(it: Item[Any], simulator: Simulator) -> Respond:
    """The simulator's model through the item's role client; the call (tokens, model,
    template version) is recorded on the item's current step, like any GEN."""
    # Imported here: the kit's item module imports this one (it.tool), and the kit's
    # package would import it back half-made.
    from generation.recipes.kit import calls

    version = simulator.template.version

    async def respond(messages: list[dict[str, Any]], schema: Mapping[str, Any]) -> Any:
        connection = it.host.client(simulator.role)
        options = {**simulator.options, "json_schema": dict(schema)}
        try:
            done = await calls.send(connection, messages, 1, "chat", "generate", options, [])
        except StructuredOutputError as exc:
            raise SimulationError(str(exc)) from exc
        record = calls.call_record(
            "tool", simulator.role, done.model, TEMPLATE, version, done.tokens_in, done.tokens_out
        )
        step = calls.CURRENT.get()
        (step if step is not None else it.calls).append(record)
        return done.parsed[0] if done.parsed else None

    return respond


def client_responder(llm: LLMClient, model: str | None = None, **options: Any) -> Respond:
    """The simulator's model as a plain client (outside a run's items)."""
    chosen = {**OPTIONS, **options}

    async def respond(messages: list[dict[str, Any]], schema: Mapping[str, Any]) -> Any:
        try:
            done = await llm.complete(messages, json_schema=dict(schema), model=model, **chosen)
        except StructuredOutputError as exc:
            raise SimulationError(str(exc)) from exc
        return done.parsed[0] if done.parsed else None

    return respond


# -- the kit's step and a slice's simulator ---------------------------------------------


async def call_tool(it: Item[Any], simulator: Simulator, name: str, arguments: Any) -> ToolResult:
    """TOOLSIM as one journaled step of the item: a replayed item gets the same result back
    without the cache, the sandbox or the model being asked again."""
    respond = item_responder(it, simulator)

    async def compute() -> dict[str, Any]:
        return (await simulator.call(name, arguments, respond)).to_json()

    return ToolResult.from_json(await it.compute("tool", compute))


async def simulator_for(host: Any, tools: Iterable[ToolDef] | None = None, **kw: Any) -> Simulator:
    """The simulator of a run's slice (the driver is the host): the run's project, its
    tool_spec seeds unless `tools` are given. For a recipe's `setup`."""
    project_id = await host.in_db(_project_of, host.run_id)
    chosen = tools_from_seeds(host.seeds).values() if tools is None else tools
    return Simulator(project_id, host.in_db, chosen, **kw)


def _project_of(run_id: int) -> int:
    from generation.runs.models import Run

    return int(Run.objects.values_list("project_id", flat=True).get(pk=run_id))

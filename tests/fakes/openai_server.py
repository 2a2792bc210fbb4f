"""A fake OpenAI-compatible server on loopback: deterministic, scriptable, able to fail on cue.

Unit tests script replies and inject faults; a crash test lets a real Celery worker process call
it over HTTP; benchmarks run it standalone with a fixed latency:

    python -m tests.fakes.openai_server --port 8099 --latency 0.2

Everything is on by default. Capabilities can be switched off to play a smaller server, each
refused the way real servers refuse it: `FakeOpenAI(capabilities={"tools": False})`,
`fake.disable("tools", "n")`, `fake.enable(...)`, or `--without tools,n` on the command line.

    chat, completions, embeddings  the route answers 404
    n                     chat answers one choice whatever `n` asks
    logprobs              no `logprobs` in the reply, though asked for
    json_schema, json_object, tools
                          400 "... is not supported" when the request uses it
    prompt_logprobs       logprobs of a given text (PLP): `echo` is a 400 and vLLM's
                          `prompt_logprobs` option is ignored (like llama.cpp)
    echo                  only `echo` is a 400; `prompt_logprobs` still answers (like a vLLM
                          reached through a proxy that drops `echo`)

Tools: a scripted reply may be a dict, `{"content": ..., "tool_calls": [{"name": ...,
"arguments": {...} or "raw text"}]}`. Unscripted, a request with `tools` calls the named or the
first tool with example arguments from its JSON Schema, unless `tool_choice` is "none" or the
last message is a tool result (then it answers in text, so agent loops end).

Logprobs: each output token's logprob comes from a hash of the token and its position, unless
the scripted reply is a dict with "logprob", `{"content": ..., "logprob": -0.5}`: then every
token of that choice has it (and so does the choice's mean).

Prompt tokens (for `echo` and `prompt_logprobs`) are the text split before whitespace, each
with a logprob derived from a hash of the token and its position: see `prompt_tokens()`.

One thread per connection (ThreadingHTTPServer, daemon threads, HTTP/1.1 keep-alive), so slow
requests overlap instead of queueing: 64 requests at 0.2 s latency finish in about 0.2 s.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import random
import re
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = str | dict[str, Any] | Callable[[dict[str, Any]], Any]
CAPABILITIES = frozenset(
    {
        "chat",
        "completions",
        "embeddings",
        "n",
        "logprobs",
        "prompt_logprobs",
        "echo",
        "json_schema",
        "json_object",
        "tools",
    }
)
FAULT_KINDS = frozenset(
    {"429", "500", "503", "400", "timeout", "malformed", "bad_json_content", "disconnect"}
)
NOT_JSON = "Sure! Here is the JSON you asked for: {oops, this is not JSON"
_FENCED_JSON = re.compile(r"```json\s*(\{.*?\})\s*```", re.DOTALL)
_TOKEN = re.compile(r"\S+\s*|\s+")  # output: a word and the whitespace after it
_PROMPT_TOKEN = re.compile(r"\s*\S+|\s+")  # prompt: a word and the space before it, as in BPE


@dataclass
class _Script:
    regex: re.Pattern[str]
    reply: Reply
    json: bool


@dataclass
class _Fault:
    kind: str
    remaining: int  # -1: forever
    regex: re.Pattern[str] | None
    retry_after: float | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # a burst of 64+ connects must not overflow the listen backlog
    allow_reuse_address = True
    fake: FakeOpenAI

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or get killed mid-request (the crash tests) are expected.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.fake._track(self.connection, add=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    def unsupported(self, what: str) -> None:
        """A 400 as OpenAI-compatible servers send it for an option they do not take."""
        error = {
            "message": f"{what} is not supported by this server",
            "type": "invalid_request_error",
            "param": what,
        }
        self.send_json(400, {"error": error})

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            fake = self.server.fake
            data = [{"id": fake.model, "object": "model", "created": 0, "owned_by": "fake"}]
            self.send_json(200, {"object": "list", "data": data})
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            self.send_json(400, {"error": {"message": "request body is not JSON"}})
            return
        self.server.fake._handle_post(self, self.path.rstrip("/"), body)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(payload).encode(), headers)

    def send_bytes(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def drop(self) -> None:
        """Close the socket without a response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


HOLD_TIMEOUT = 10.0


def _switch(name: str) -> Any:
    """`fake.support_<name>`: the older spelling of `fake.capabilities[name]`."""
    return property(
        lambda self: self.capabilities[name],
        lambda self, on: self.enable(name) if on else self.disable(name),
    )


class FakeOpenAI:
    support_json_schema = _switch("json_schema")
    support_json_object = _switch("json_object")
    support_n = _switch("n")
    support_completions = _switch("completions")

    def __init__(
        self,
        *,
        latency: float = 0.0,
        model: str = "fake-model",
        embedding_dim: int = 384,
        capabilities: dict[str, bool] | None = None,
        support_json_schema: bool = True,
        support_n: bool = True,
        support_json_object: bool = True,
        support_completions: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        hold_until_in_flight: int = 0,
    ) -> None:
        self.capabilities = dict.fromkeys(sorted(CAPABILITIES), True)
        self.support_json_schema = support_json_schema
        self.support_n = support_n
        self.support_json_object = support_json_object
        self.support_completions = support_completions
        for name, on in (capabilities or {}).items():
            if on:
                self.enable(name)
            else:
                self.disable(name)
        self.latency = latency
        # Tests of concurrency: each request waits (up to HOLD_TIMEOUT) until this many are in
        # flight at once, so the check does not depend on how fast a loaded machine sends them.
        self.hold_until_in_flight = hold_until_in_flight
        # A cap on `n` per chat request, refused like llama.cpp's server refuses n > 4.
        self.max_n: int | None = None
        self.model = model
        self.embedding_dim = embedding_dim
        self.host, self.port = host, port
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._texts: list[str] = []  # what patterns match against, one per request
        self._scripts: list[_Script] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._all_in = threading.Condition(self._lock)
        self._stopped = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        self._stopped.clear()
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}/v1"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._stopped.set()  # releases "timeout" faults and latency waits
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # idle keep-alive connections would hold their threads
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- capabilities --------------------------------------------------------------------------

    def disable(self, *names: str) -> None:
        """Play a server without these capabilities (see the module docstring)."""
        for name in names:
            self.capabilities[_capability(name)] = False

    def enable(self, *names: str) -> None:
        for name in names:
            self.capabilities[_capability(name)] = True

    def _can(self, name: str) -> bool:
        return self.capabilities[name]

    # -- scripting -----------------------------------------------------------------------------

    def script(self, pattern: str, reply: Reply, *, json: bool = False) -> None:
        """Answer requests whose last user message matches `pattern` (re.search, DOTALL).

        `reply` is the text, or a callable given the request body that returns the text or a
        list of texts (one per choice). With json=True a str reply must parse as JSON (checked
        now, to catch typos) and a callable may return JSON values, which are serialised.
        Without it, a dict is an assistant message: `{"content": str | None, "tool_calls":
        [{"name": ..., "arguments": dict | str}, ...]}` (a str is sent as is, broken or not).
        """
        if json and isinstance(reply, str):
            _json_loads(reply)
        if isinstance(reply, dict):
            if json:
                raise ValueError("a dict reply is an assistant message; json=True wants text")
            _message(reply, "check")
        with self._lock:
            self._scripts.append(_Script(re.compile(pattern, re.DOTALL), reply, json))

    def fault(
        self,
        kind: str,
        *,
        times: int = 1,
        pattern: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Fail the next `times` matching requests (-1: all of them) in the given way."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(FAULT_KINDS)}")
        regex = re.compile(pattern, re.DOTALL) if pattern is not None else None
        with self._lock:
            self._faults.append(_Fault(kind, times, regex, retry_after))

    def count(self, pattern: str | None = None) -> int:
        """Requests received so far; with a pattern, those whose last user message matches."""
        with self._lock:
            texts = list(self._texts)
        if pattern is None:
            return len(texts)
        regex = re.compile(pattern, re.DOTALL)
        return sum(1 for text in texts if regex.search(text))

    # -- serving -------------------------------------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _handle_post(self, handler: _Handler, path: str, body: dict[str, Any]) -> None:
        is_chat = path.endswith("/chat/completions")
        is_text = path.endswith("/v1/completions") and not is_chat
        is_embed = path.endswith("/embeddings")
        if is_text and not self._can("completions"):
            handler.send_json(404, {"error": {"message": "completions not supported"}})
            return
        if (is_chat and not self._can("chat")) or (is_embed and not self._can("embeddings")):
            handler.send_json(404, {"error": {"message": f"no route {path}"}})
            return
        if not (is_chat or is_text or is_embed):
            handler.send_json(404, {"error": {"message": f"no route {path}"}})
            return
        if is_text:
            text = str(body.get("prompt") or "")
        else:
            text = _last_user_text(body) if is_chat else "\n".join(_inputs(body))
        with self._lock:
            self.requests.append(body)
            self._texts.append(text)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fault = self._take_fault(text)
            if self.hold_until_in_flight:
                self._all_in.notify_all()
                self._all_in.wait_for(
                    lambda: self.max_in_flight >= self.hold_until_in_flight, HOLD_TIMEOUT
                )
        try:
            if self.latency:
                self._stopped.wait(self.latency)
            if fault is not None and fault.kind != "bad_json_content":
                self._send_fault(handler, fault)
            elif is_chat:
                self._chat(handler, body, text, broken=fault is not None)
            elif is_text:
                self._text(handler, body, text)
            else:
                self._embeddings(handler, body)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _take_fault(self, text: str) -> _Fault | None:
        for fault in self._faults:
            if fault.remaining != 0 and (fault.regex is None or fault.regex.search(text)):
                if fault.remaining > 0:
                    fault.remaining -= 1
                return fault
        return None

    def _send_fault(self, handler: _Handler, fault: _Fault) -> None:
        if fault.kind == "timeout":
            self._stopped.wait(30)
            handler.drop()
        elif fault.kind == "disconnect":
            handler.drop()
        elif fault.kind == "malformed":
            handler.send_bytes(200, b'{"id": "chatcmpl-broken", "choices": [{"ind')
        else:
            status = int(fault.kind)
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            error = {"message": f"fake {status}", "type": "fake_error", "code": status}
            handler.send_json(status, {"error": error}, headers)

    def _chat(self, handler: _Handler, body: dict[str, Any], text: str, *, broken: bool) -> None:
        response_format = body.get("response_format") or {}
        kind = response_format.get("type")
        if (kind == "json_schema" and not self.support_json_schema) or (
            kind == "json_object" and not self.support_json_object
        ):
            message = f"response_format {kind} not supported"
            handler.send_json(400, {"error": {"message": message, "type": "invalid_request"}})
            return
        if body.get("tools") and not self._can("tools"):
            handler.unsupported("tools")
            return
        if self.max_n is not None and int(body.get("n") or 1) > self.max_n:
            message = (
                f"Field 'n': Value must be between 1 <= value <= {self.max_n}, but got {body['n']}"
            )
            handler.send_json(400, {"error": {"message": message, "type": "invalid_request"}})
            return
        n = int(body.get("n") or 1) if self.support_n else 1
        replies = [NOT_JSON] * n if broken else self._replies(body, text, n)
        choices = []
        completion_tokens = 0
        for index, reply in enumerate(replies):
            message = _message(reply, f"{text}#{index}")
            content = message.get("content") or ""
            calls = message.get("tool_calls")
            choice: dict[str, Any] = {
                "index": index,
                "message": message,
                "finish_reason": "tool_calls" if calls else "stop",
                "logprobs": None,
            }
            if body.get("logprobs") and self._can("logprobs"):
                fixed = reply.get("logprob") if isinstance(reply, dict) else None
                top = body.get("top_logprobs") or 0
                choice["logprobs"] = {"content": _logprobs(content, top, fixed)}
            choices.append(choice)
            completion_tokens += (
                len(content) // 4 + 1 + (len(json.dumps(calls)) // 4 if calls else 0)
            )
        prompt = "".join(_content_text(m.get("content")) for m in body.get("messages") or [])
        usage = {"prompt_tokens": len(prompt) // 4 + 1, "completion_tokens": completion_tokens}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        handler.send_json(
            200,
            {
                "id": f"chatcmpl-{_digest(text, str(len(self.requests)))}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model") or self.model,
                "choices": choices,
                "usage": usage,
            },
        )

    def _text(self, handler: _Handler, body: dict[str, Any], text: str) -> None:
        """A legacy text completion (`/v1/completions`), with `echo` and `prompt_logprobs`."""
        echo = bool(body.get("echo"))
        if echo and not (self._can("prompt_logprobs") and self._can("echo")):
            handler.unsupported("echo")
            return
        n = int(body.get("n") or 1)
        silent = body.get("max_tokens") == 0  # echo with max_tokens=0: score, do not generate
        texts = [""] * n if silent else self._replies(body, text, n)
        generated = [_message(t, "")["content"] or "" for t in texts]
        usage = {
            "prompt_tokens": len(text) // 4 + 1,
            "completion_tokens": sum(len(t) // 4 + 1 for t in generated if t),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        choices = []
        for index, reply in enumerate(generated):
            choice: dict[str, Any] = {
                "index": index,
                "text": text + reply if echo else reply,
                "finish_reason": "length" if silent else "stop",
                "logprobs": None,
            }
            if body.get("logprobs") is not None and self._can("logprobs"):
                choice["logprobs"] = _legacy_logprobs(
                    prompt_tokens(text) if echo else [], reply, int(body["logprobs"])
                )
            if body.get("prompt_logprobs") is not None and self._can("prompt_logprobs"):
                choice["prompt_logprobs"] = _vllm_prompt_logprobs(
                    text, int(body["prompt_logprobs"])
                )
            choices.append(choice)
        handler.send_json(
            200,
            {
                "id": f"cmpl-{_digest(text, str(len(self.requests)))}",
                "object": "text_completion",
                "created": 0,
                "model": body.get("model") or self.model,
                "choices": choices,
                "usage": usage,
            },
        )

    def _replies(self, body: dict[str, Any], text: str, n: int) -> list[str | dict[str, Any]]:
        with self._lock:
            script = next((s for s in self._scripts if s.regex.search(text)), None)
        if script is not None:
            out = script.reply if isinstance(script.reply, str | dict) else script.reply(body)
            items = out if isinstance(out, list) else [out]
            if not items:
                raise ValueError("a scripted reply returned no texts")
            texts = [
                item
                if isinstance(item, str) or (isinstance(item, dict) and not script.json)
                else json.dumps(item)
                for item in items
            ]
            return [texts[i % len(texts)] for i in range(n)]
        schema = _requested_schema(body)
        seed = body.get("seed")
        replies: list[str | dict[str, Any]] = []
        for index in range(n):
            key = _digest(
                text, "" if seed is None else f"seed={seed}", f"#{index}" if index else ""
            )
            call = _default_tool_call(body, key)
            if call is not None:
                replies.append(call)
            elif schema is not None:
                replies.append(json.dumps(_example(schema, key)))
            else:
                replies.append(f"Answer {key}.")
        return replies

    def _embeddings(self, handler: _Handler, body: dict[str, Any]) -> None:
        inputs = _inputs(body)
        data = []
        for index, text in enumerate(inputs):
            vector = _unit_vector(text, self.embedding_dim)
            embedding: Any = vector
            if body.get("encoding_format") == "base64":
                packed = struct.pack(f"<{len(vector)}f", *vector)
                embedding = base64.b64encode(packed).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(len(t) // 4 + 1 for t in inputs)
        handler.send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or self.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


# -- deterministic content --------------------------------------------------------------------


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(p for p in parts if p).encode()).hexdigest()[:8]


def _json_loads(text: str) -> Any:
    # FakeOpenAI.script() takes a `json` flag, which shadows the module there.
    return json.loads(text)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _inputs(body: dict[str, Any]) -> list[str]:
    raw = body.get("input")
    items = raw if isinstance(raw, list) else [raw]
    return [item if isinstance(item, str) else json.dumps(item) for item in items]


def _requested_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema a request asks for: in response_format, or fenced in the system prompt."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else {}
    if response_format.get("type") != "json_object":
        return None
    for message in body.get("messages") or []:
        if message.get("role") == "system":
            found = _FENCED_JSON.search(_content_text(message.get("content")))
            if found:
                try:
                    schema = json.loads(found.group(1))
                except ValueError:
                    continue
                if isinstance(schema, dict):
                    return schema
    return {"type": "object", "properties": {"answer": {"type": "string"}}}


def _example(schema: Any, key: str) -> Any:
    """A small value that satisfies the common JSON Schema keywords, derived from `key`."""
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("examples"):
        return schema["examples"][0]
    for keyword in ("anyOf", "oneOf", "allOf"):
        if schema.get(keyword):
            return _example(schema[keyword][0], key)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties") or {}
        names = schema.get("required") or list(props)
        return {name: _example(props.get(name, {}), f"{key}.{name}") for name in names}
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 0)
        count = min(count, int(schema.get("maxItems", count)))
        return [_example(schema.get("items", {}), f"{key}[{i}]") for i in range(count)]
    if kind in ("integer", "number"):
        if "minimum" in schema:
            return schema["minimum"]
        if "exclusiveMinimum" in schema:
            return schema["exclusiveMinimum"] + 1
        return schema.get("maximum", 1)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = f"text {_digest(key)}"
    text = text.ljust(int(schema.get("minLength", 0)), "x")
    return text[: int(schema.get("maxLength", len(text)))]


def _logprob(token: str, position: int) -> float:
    return -(int(_digest(token, str(position)), 16) % 2000) / 1000


def _logprobs(text: str, top: int, fixed: float | None = None) -> list[dict[str, Any]]:
    out = []
    for position, token in enumerate(_TOKEN.findall(text)):
        logprob = _logprob(token, position) if fixed is None else float(fixed)
        alternatives = [{"token": token, "logprob": logprob, "bytes": list(token.encode())}]
        for rank in range(1, top):
            alt = f"alt{rank}"
            alternatives.append(
                {"token": alt, "logprob": logprob - rank * 0.5, "bytes": list(alt.encode())}
            )
        out.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": alternatives[:top],
            }
        )
    return out


def prompt_tokens(text: str) -> list[tuple[str, float | None]]:
    """How the fake tokenizes a prompt, with each token's logprob; the first has no context."""
    tokens = _PROMPT_TOKEN.findall(text)
    return [(t, None if i == 0 else _logprob(t, i)) for i, t in enumerate(tokens)]


def _legacy_logprobs(
    prompt: list[tuple[str, float | None]], generated: str, top: int
) -> dict[str, Any]:
    """`/v1/completions` logprobs: the echoed prompt's tokens, then the generated ones."""
    pairs = list(prompt)
    for token in _PROMPT_TOKEN.findall(generated):
        pairs.append((token, _logprob(token, len(pairs))))
    offsets, at = [], 0
    for token, _logprob_value in pairs:
        offsets.append(at)
        at += len(token)
    return {
        "tokens": [token for token, _ in pairs],
        "token_logprobs": [value for _, value in pairs],
        "top_logprobs": [None if v is None or not top else {t: v} for t, v in pairs],
        "text_offset": offsets,
    }


def _vllm_prompt_logprobs(text: str, top: int) -> list[dict[str, Any] | None]:
    """vLLM's `prompt_logprobs`: per prompt token `{id: {logprob, rank, decoded_token}}`, the
    prompt token first, then `top` alternatives; null for the first token."""
    out: list[dict[str, Any] | None] = []
    for token, logprob in prompt_tokens(text):
        if logprob is None:
            out.append(None)
            continue
        entry = {str(_token_id(token)): {"logprob": logprob, "rank": 1, "decoded_token": token}}
        for rank in range(1, top + 1):
            entry[str(900_000 + rank)] = {
                "logprob": logprob - rank * 0.5,
                "rank": rank,
                "decoded_token": f"alt{rank}",
            }
        out.append(entry)
    return out


def _token_id(token: str) -> int:
    return int(_digest(token), 16) % 100_000


def _message(reply: str | dict[str, Any], key: str) -> dict[str, Any]:
    """A reply as an assistant message; tool calls in the short form get the OpenAI form."""
    if isinstance(reply, str):
        return {"role": "assistant", "content": reply}
    unknown = set(reply) - {"role", "content", "tool_calls", "logprob"}
    if unknown:
        raise ValueError(f"a scripted message has unknown keys {sorted(unknown)}")
    content = reply.get("content")
    message: dict[str, Any] = {"role": "assistant", "content": content}
    calls = reply.get("tool_calls")
    if calls:
        message["tool_calls"] = [_tool_call(call, f"{key}#{i}") for i, call in enumerate(calls)]
        return message
    if not isinstance(content, str):
        raise ValueError("a scripted message needs text content or tool_calls")
    return message


def _tool_call(call: dict[str, Any], key: str) -> dict[str, Any]:
    if "function" in call:  # already in the OpenAI form: sent as given
        return {"type": "function", **call, "id": call.get("id") or f"call_{_digest(key)}"}
    if not call.get("name"):
        raise ValueError(f"a scripted tool call needs a name: {call!r}")
    arguments = call.get("arguments", {})
    return {
        "id": call.get("id") or f"call_{_digest(key, call['name'])}",
        "type": "function",
        "function": {
            "name": call["name"],
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        },
    }


def _default_tool_call(body: dict[str, Any], key: str) -> dict[str, Any] | None:
    """Unscripted, with tools: call the forced or the first tool, unless told not to or the
    last message is a tool's result (then answer in text)."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        tools = [t for t in tools if (t.get("function") or {}).get("name") == name]
        if not tools:
            return None
    elif choice != "required":
        messages = body.get("messages") or []
        if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
            return None
    function = tools[0].get("function") or {}
    parameters = function.get("parameters")
    arguments = _example(parameters, key) if isinstance(parameters, dict) and parameters else {}
    name = str(function.get("name") or "tool")
    return {
        "content": None,
        "tool_calls": [
            {"name": name, "arguments": arguments if isinstance(arguments, dict) else {}}
        ],
    }


def _capability(name: str) -> str:
    if name not in CAPABILITIES:
        raise ValueError(f"unknown capability {name!r}; one of {sorted(CAPABILITIES)}")
    return name


def _unit_vector(text: str, dim: int) -> list[float]:
    rng = random.Random(int(hashlib.sha256(text.encode()).hexdigest()[:16], 16))
    vector = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the fake OpenAI-compatible API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--embedding-dim", type=int, default=384)
    parser.add_argument(
        "--without", default="", help="capabilities to switch off, comma-separated: tools,n"
    )
    args = parser.parse_args(argv)
    fake = FakeOpenAI(
        latency=args.latency,
        model=args.model,
        embedding_dim=args.embedding_dim,
        capabilities=dict.fromkeys(filter(None, args.without.split(",")), False),
        host=args.host,
        port=args.port,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(fake.start(), flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()

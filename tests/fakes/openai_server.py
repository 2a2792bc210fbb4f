"""A fake OpenAI-compatible server on loopback: deterministic, scriptable, able to fail on cue.

Unit tests script replies and inject faults; a crash test lets a real Celery worker process call
it over HTTP; benchmarks run it standalone with a fixed latency:

    python -m tests.fakes.openai_server --port 8099 --latency 0.2

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

Reply = str | Callable[[dict[str, Any]], Any]
FAULT_KINDS = frozenset(
    {"429", "500", "503", "400", "timeout", "malformed", "bad_json_content", "disconnect"}
)
NOT_JSON = "Sure! Here is the JSON you asked for: {oops, this is not JSON"
_FENCED_JSON = re.compile(r"```json\s*(\{.*?\})\s*```", re.DOTALL)


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


class FakeOpenAI:
    def __init__(
        self,
        *,
        latency: float = 0.0,
        model: str = "fake-model",
        embedding_dim: int = 384,
        support_json_schema: bool = True,
        support_n: bool = True,
        support_json_object: bool = True,
        support_completions: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        hold_until_in_flight: int = 0,
    ) -> None:
        self.latency = latency
        # Tests of concurrency: each request waits (up to HOLD_TIMEOUT) until this many are in
        # flight at once, so the check does not depend on how fast a loaded machine sends them.
        self.hold_until_in_flight = hold_until_in_flight
        self.model = model
        self.embedding_dim = embedding_dim
        self.support_json_schema = support_json_schema
        self.support_n = support_n
        self.support_json_object = support_json_object
        self.support_completions = support_completions
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

    # -- scripting -----------------------------------------------------------------------------

    def script(self, pattern: str, reply: Reply, *, json: bool = False) -> None:
        """Answer requests whose last user message matches `pattern` (re.search, DOTALL).

        `reply` is the text, or a callable given the request body that returns the text or a
        list of texts (one per choice). With json=True a str reply must parse as JSON (checked
        now, to catch typos) and a callable may return JSON values, which are serialised.
        """
        if json and isinstance(reply, str):
            _json_loads(reply)
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
        if is_text and not self.support_completions:
            handler.send_json(404, {"error": {"message": "completions not supported"}})
            return
        if not (is_chat or is_text) and not path.endswith("/embeddings"):
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
        n = int(body.get("n") or 1) if self.support_n else 1
        texts = [NOT_JSON] * n if broken else self._replies(body, text, n)
        choices = []
        for index, reply in enumerate(texts):
            choice: dict[str, Any] = {
                "index": index,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
                "logprobs": None,
            }
            if body.get("logprobs"):
                choice["logprobs"] = {"content": _logprobs(reply, body.get("top_logprobs") or 0)}
            choices.append(choice)
        prompt = "".join(_content_text(m.get("content")) for m in body.get("messages") or [])
        usage = {
            "prompt_tokens": len(prompt) // 4 + 1,
            "completion_tokens": sum(len(t) // 4 + 1 for t in texts),
        }
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
        """A legacy text completion (`/v1/completions`)."""
        n = int(body.get("n") or 1)
        texts = self._replies(body, text, n)
        usage = {
            "prompt_tokens": len(text) // 4 + 1,
            "completion_tokens": sum(len(t) // 4 + 1 for t in texts),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        choices = [
            {"index": i, "text": t, "finish_reason": "stop", "logprobs": None}
            for i, t in enumerate(texts)
        ]
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

    def _replies(self, body: dict[str, Any], text: str, n: int) -> list[str]:
        with self._lock:
            script = next((s for s in self._scripts if s.regex.search(text)), None)
        if script is not None:
            out = script.reply if isinstance(script.reply, str) else script.reply(body)
            items = out if isinstance(out, list) else [out]
            if not items:
                raise ValueError("a scripted reply returned no texts")
            texts = [
                item if isinstance(item, str) or not script.json else json.dumps(item)
                for item in items
            ]
            return [texts[i % len(texts)] for i in range(n)]
        schema = _requested_schema(body)
        seed = body.get("seed")
        replies = []
        for index in range(n):
            key = _digest(
                text, "" if seed is None else f"seed={seed}", f"#{index}" if index else ""
            )
            if schema is not None:
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


def _logprobs(text: str, top: int) -> list[dict[str, Any]]:
    out = []
    for position, token in enumerate(re.findall(r"\S+\s*|\s+", text)):
        logprob = -(int(_digest(token, str(position)), 16) % 2000) / 1000
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
    args = parser.parse_args(argv)
    fake = FakeOpenAI(
        latency=args.latency,
        model=args.model,
        embedding_dim=args.embedding_dim,
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

"""The fake OpenAI-compatible server itself: determinism, scripting, faults, concurrency."""

from __future__ import annotations

import base64
import http.client
import json
import math
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jsonschema
import pytest

from generation import llm
from tests.fakes.openai_server import FakeOpenAI


def chat(fake: FakeOpenAI, text: str, **extra: Any) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(f"{fake.base_url}/chat/completions", json=body, timeout=10)


def raw_chat_status(port: int, text: str) -> int:
    """A bare http.client request: cheap enough that the client is not what gets measured."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": text}]})
        conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def contents(response: httpx.Response) -> list[str]:
    return [c["message"]["content"] for c in response.json()["choices"]]


def test_the_default_reply_is_derived_from_the_last_user_message(fake_llm: FakeOpenAI) -> None:
    first, again, other = chat(fake_llm, "hello"), chat(fake_llm, "hello"), chat(fake_llm, "bye")

    assert contents(first) == contents(again)
    assert contents(first) != contents(other)
    assert contents(first)[0].startswith("Answer ")


def test_n_choices_are_distinct_and_usage_is_reported(fake_llm: FakeOpenAI) -> None:
    response = chat(fake_llm, "x" * 40, n=3)

    texts = contents(response)
    assert len(set(texts)) == 3
    usage = response.json()["usage"]
    assert usage["prompt_tokens"] == 40 // 4 + 1
    assert usage["completion_tokens"] == sum(len(t) // 4 + 1 for t in texts)


def test_a_server_without_n_returns_one_choice(fake_llm: FakeOpenAI) -> None:
    fake_llm.support_n = False

    assert len(contents(chat(fake_llm, "hello", n=3))) == 1


def test_the_first_matching_script_wins_and_may_be_a_callable(fake_llm: FakeOpenAI) -> None:
    fake_llm.script(r"capital of France", "Paris.")
    fake_llm.script(r"capital", "I do not know.")
    fake_llm.script(r"echo", lambda body: [f"{body['model']}-{i}" for i in range(2)])

    assert contents(chat(fake_llm, "What is the capital of France?")) == ["Paris."]
    assert contents(chat(fake_llm, "What is the capital of Peru?")) == ["I do not know."]
    assert contents(chat(fake_llm, "echo", n=3)) == ["m-0", "m-1", "m-0"]


def test_a_json_script_serialises_values_and_rejects_typos(fake_llm: FakeOpenAI) -> None:
    fake_llm.script(r"score", lambda body: {"score": 4}, json=True)

    assert contents(chat(fake_llm, "score this")) == ['{"score": 4}']
    with pytest.raises(ValueError):
        fake_llm.script(r"oops", "{not json", json=True)


def test_faults_apply_to_the_next_matching_requests_only(fake_llm: FakeOpenAI) -> None:
    fake_llm.fault("503", times=2, pattern="flaky")
    fake_llm.fault("429", retry_after=3)

    assert chat(fake_llm, "flaky one").status_code == 503
    assert chat(fake_llm, "flaky two").status_code == 503
    limited = chat(fake_llm, "flaky three")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert chat(fake_llm, "flaky four").status_code == 200
    assert fake_llm.count("flaky") == 4
    assert fake_llm.count() == 4


def test_a_permanent_fault_never_runs_out(fake_llm: FakeOpenAI) -> None:
    fake_llm.fault("500", times=-1)

    assert {chat(fake_llm, f"q{i}").status_code for i in range(5)} == {500}


def test_malformed_and_bad_json_content_faults(fake_llm: FakeOpenAI) -> None:
    fake_llm.fault("malformed")
    fake_llm.fault("bad_json_content")

    malformed = chat(fake_llm, "a")
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        malformed.json()
    bad = chat(fake_llm, "b")
    assert bad.status_code == 200
    with pytest.raises(ValueError):
        json.loads(contents(bad)[0])


def test_a_disconnect_closes_the_socket_without_a_response(fake_llm: FakeOpenAI) -> None:
    fake_llm.fault("disconnect")

    with pytest.raises(httpx.HTTPError):
        chat(fake_llm, "a")


def test_stop_releases_a_request_stuck_in_a_timeout_fault() -> None:
    fake = FakeOpenAI()
    fake.start()
    fake.fault("timeout")
    outcome: list[str] = []

    def call() -> None:
        try:
            chat(fake, "slow")
            outcome.append("answered")
        except httpx.HTTPError:
            outcome.append("dropped")

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 5
    while fake.in_flight == 0 and time.monotonic() < deadline:
        threading.Event().wait(0.005)
    started = time.monotonic()
    fake.stop()
    thread.join(5)

    assert outcome == ["dropped"]
    assert time.monotonic() - started < 2


def test_unsupported_json_schema_is_rejected_with_a_400() -> None:
    with FakeOpenAI(support_json_schema=False) as fake:
        rf = {"type": "json_schema", "json_schema": {"name": "o", "schema": {"type": "object"}}}
        response = chat(fake, "a", response_format=rf)

    assert response.status_code == 400
    assert "json_schema not supported" in response.json()["error"]["message"]


def test_default_structured_replies_satisfy_the_requested_schema(fake_llm: FakeOpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {
            "label": {"enum": ["good", "bad"]},
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "note": {"type": ["string", "null"], "minLength": 20},
        },
        "required": ["label", "score", "tags", "note"],
        "additionalProperties": False,
    }
    rf = {"type": "json_schema", "json_schema": {"name": "o", "schema": schema, "strict": True}}

    response = chat(fake_llm, "rate it", response_format=rf)

    jsonschema.validate(json.loads(contents(response)[0]), schema)


def test_logprobs_come_with_top_alternatives_when_asked(fake_llm: FakeOpenAI) -> None:
    response = chat(fake_llm, "hello", logprobs=True, top_logprobs=2)

    choice = response.json()["choices"][0]
    tokens = choice["logprobs"]["content"]
    assert "".join(t["token"] for t in tokens) == choice["message"]["content"]
    assert all(len(t["top_logprobs"]) == 2 and t["logprob"] <= 0 for t in tokens)
    assert chat(fake_llm, "hello").json()["choices"][0]["logprobs"] is None


def test_embeddings_are_deterministic_unit_vectors(fake_llm: FakeOpenAI) -> None:
    url = f"{fake_llm.base_url}/embeddings"
    body = {"model": "m", "input": ["a", "b", "a"], "encoding_format": "float"}
    data = httpx.post(url, json=body).json()["data"]
    packed = httpx.post(url, json={"model": "m", "input": "a", "encoding_format": "base64"})

    vectors = [item["embedding"] for item in data]
    assert len(vectors[0]) == 384
    assert vectors[0] == vectors[2] != vectors[1]
    assert math.isclose(sum(v * v for v in vectors[1]), 1.0)
    raw = base64.b64decode(packed.json()["data"][0]["embedding"])
    assert struct.unpack("<384f", raw) == pytest.approx(vectors[0], abs=1e-6)


def test_probe_lists_the_fake_model(fake_llm: FakeOpenAI) -> None:
    result = llm.probe(fake_llm.base_url, "", timeout=3.0)

    assert result["ok"] is True
    assert result["models"] == ["fake-model"]


def test_sixty_four_slow_requests_overlap_instead_of_queueing() -> None:
    # Each request is held until 64 are in flight (or 10 s pass): a server that queued
    # them would never get there.
    with (
        FakeOpenAI(latency=0.2, hold_until_in_flight=64) as fake,
        ThreadPoolExecutor(64) as pool,
    ):
        statuses = list(pool.map(lambda i: raw_chat_status(fake.port, f"q{i}"), range(64)))

    assert statuses == [200] * 64
    assert fake.max_in_flight == 64


def test_it_runs_standalone_from_the_command_line() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", "0", "--latency", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        stdout = process.stdout
        assert stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(stdout.readline()))
        reader.start()
        reader.join(10)
        assert lines and lines[0].startswith("http://127.0.0.1:")
        assert llm.probe(lines[0].strip(), "", timeout=3.0)["ok"] is True
    finally:
        process.terminate()
        process.wait(10)
    assert process.returncode == 0

"""One smoke test against the real local model: Self-Instruct makes 3 valid samples.

It checks that the whole path works with a real OpenAI-compatible server (llama.cpp
through xllamacpp): JSON validity of what is stored, not the quality of the text. It
uses the server from `make run` when one is up on 127.0.0.1:8081, and otherwise starts
its own from the GGUF that `make test` assembles into .run/models.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curation.projects import services as project_services
from curation.projects.models import LLMCall
from curation.seeds.services import import_seed_set
from generation.localmodel import MODELS
from generation.runs import services
from generation.runs.models import RunStatus
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.localmodel, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as r:  # noqa: S310 - loopback
            return r.status == 200
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def local_model() -> Iterator[str]:
    if healthy("http://127.0.0.1:8081"):
        yield "http://127.0.0.1:8081/v1"
        return
    gguf = ROOT / ".run" / "models" / MODELS["small"].filename
    if not gguf.exists():
        pytest.fail(f"{gguf} is missing: `make test` assembles it (localmodel ensure).")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "generation.localmodel",
            "serve",
            "--size",
            "small",
            "--cache-dir",
            str(gguf.parent),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while not healthy(base):
        assert proc.poll() is None, "the local model server exited"
        assert time.monotonic() < deadline, "the local model server did not come up"
        time.sleep(0.5)
    try:
        yield f"{base}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_self_instruct_makes_three_valid_samples_on_the_real_local_model(
    local_model: str, settings: Any
) -> None:
    settings.SEEDBED_LLM_MAX_RETRIES = 2
    settings.SEEDBED_RUN_SLICE_SECONDS = 600  # one slice: no calls cut at a slice boundary
    owner = UserFactory(username="smoke")
    project = ProjectFactory(name="Smoke")
    MembershipFactory(project=project, user=owner, role="owner")
    seeds = (ROOT / "curation" / "demo" / "data" / "instructions.jsonl").read_bytes()
    seed_set = import_seed_set(owner, project, name="Demo", data=seeds)
    endpoint = project_services.save_endpoint(
        owner,
        project,
        name="local",
        base_url=local_model,
        chat_model=MODELS["small"].alias,
        max_concurrency=4,
    )
    started = time.monotonic()
    run = services.start_run(
        owner,
        project,
        recipe_id="self_instruct",
        endpoint=endpoint,
        seed_set=seed_set,
        target_count=3,
    )
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, (run.last_error, run.filtered)
    assert run.produced == 3
    for sample in run.samples.all():
        messages = json.loads(json.dumps(sample.messages))
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert all(isinstance(m["content"], str) and m["content"] for m in messages)
        assert sample.extra["instruction"] and sample.model == MODELS["small"].alias
    calls = LLMCall.objects.filter(run=run)
    errors = list(calls.filter(status="error").values_list("error", flat=True))
    assert calls.exists() and not errors, errors
    print(f"\nsmoke: 3 samples in {time.monotonic() - started:.0f} s, filtered={run.filtered}")

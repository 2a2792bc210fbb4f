"""The runner: one process per program, started by pool.py with the venv's Python in
isolated mode, stdlib only (`python -I -S -B`), and in namespace mode under

    unshare --net --mount --pid --fork --kill-child [--user --map-root-user]

so that it is pid 1 of fresh network, mount and pid namespaces. It builds the view
(view.py) at once, so a runner started ahead of need is ready; then it reads one job (JSON
on stdin, till EOF), forks the worker (worker.py) and supervises it: the wall clock, the
caps on stdout and stderr, the result on fd 3. When the worker ends, whatever it started
is killed too (kill(-1) from pid 1 kills the whole namespace). It prints one JSON report
on stdout and exits; the namespaces and the tmpfs working directory go with it.

In guard mode it runs without namespaces, in a process group of its own that pool.py
kills on timeout; the worker cannot fork (guard.py), so killing the worker ends it all.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import selectors
import signal
import sys
import time

from generation.sandbox import guard, view, worker

TYPE_CHECKING = False  # no typing at run time: start-up time (see worker.py)
if TYPE_CHECKING:
    from typing import Any

NAMESPACE, GUARD = "namespace", "guard"
_DRAIN_S = 1.0


class Streams:
    """The worker's stdout, stderr and result pipes, each kept up to its cap."""

    def __init__(self, fds: list[int], caps: list[int]) -> None:
        self.fds = fds
        self.caps = dict(zip(fds, caps, strict=True))
        self.data = {fd: bytearray() for fd in fds}
        self.over: set[int] = set()
        self.sel = selectors.DefaultSelector()
        for fd in fds:
            self.sel.register(fd, selectors.EVENT_READ)

    def read(self, fd: int) -> None:
        chunk = os.read(fd, 65536)
        if not chunk:
            self.sel.unregister(fd)
            return
        buf = self.data[fd]
        room = self.caps[fd] - len(buf)
        buf += chunk[: max(room, 0)]
        if len(chunk) > room:
            self.over.add(fd)

    def drain(self, seconds: float) -> None:
        """Read what is left, once every writer is gone (EOF), for at most `seconds`."""
        deadline = time.monotonic() + seconds
        while self.sel.get_map() and time.monotonic() < deadline:
            for key, _ in self.sel.select(max(deadline - time.monotonic(), 0)):
                self.read(key.fd)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None  # before Linux 5.3: poll instead


def watch(pid: int, streams: Streams, deadline: float) -> tuple[Any, str | None]:
    """Until the worker exits, the clock runs out, or it writes past a cap: the worker's
    (pid, status, rusage) if it exited, and why it was stopped otherwise."""
    pidfd = _pidfd(pid)
    if pidfd is not None:
        streams.sel.register(pidfd, selectors.EVENT_READ)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, "timeout"
            for key, _ in streams.sel.select(left if pidfd is not None else min(left, 0.02)):
                if key.fd != pidfd:
                    streams.read(key.fd)
                    if streams.over:
                        return None, "output"
            waited = os.wait4(pid, os.WNOHANG)
            if waited[0]:
                return waited, None
    finally:
        if pidfd is not None:
            streams.sel.unregister(pidfd)
            os.close(pidfd)


def kill_rest(mode: str, pid: int) -> Any:
    """Kill everything the program left running: as pid 1 of its namespace, all of it.
    Returns the worker's (pid, status, rusage) if it was among those reaped here."""
    if mode != NAMESPACE or os.getpid() != 1:
        return None
    reaped = None
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        try:
            waited = os.wait4(-1, 0)  # orphans are re-parented to pid 1: reap them all
        except ChildProcessError:
            return reaped
        if waited[0] == pid:
            reaped = waited


def supervise(job: dict[str, Any], mode: str) -> dict[str, Any]:
    lim = job["limits"]  # Limits.to_json()
    if mode == NAMESPACE:
        workdir = view.mount_workdir(lim["disk_mb"], job.get("uid") or 0)
    else:
        workdir = job["workdir"]
    pipes = [os.pipe() for _ in range(3)]
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        for r, _ in pipes:
            os.close(r)
        out, err, res = (w for _, w in pipes)
        worker.main(job, workdir, mode, (out, err, res))
    for _, w in pipes:
        os.close(w)
    cap = lim["output_kb"] * 1024
    streams = Streams([r for r, _ in pipes], [cap, cap, lim["result_kb"] * 1024 + 4096])
    waited, stopped = watch(pid, streams, start + lim["wall_s"])
    if waited is None:
        waited = kill_rest(mode, pid)
        if waited is None:  # guard mode: the worker is alone (it cannot fork)
            os.kill(pid, signal.SIGKILL)
            waited = os.wait4(pid, 0)
    wall = time.monotonic() - start
    kill_rest(mode, pid)
    streams.drain(_DRAIN_S)
    _, status, usage = waited
    return assemble(streams, lim, os.waitstatus_to_exitcode(status), stopped, wall, usage)


def _outcome(raw: bytes) -> dict[str, Any] | None:
    try:
        outcome = json.loads(raw)
    except ValueError:
        return None
    return outcome if isinstance(outcome, dict) else None


def assemble(
    streams: Streams,
    lim: dict[str, Any],
    exit_status: int,
    stopped: str | None,
    wall: float,
    usage: Any,
) -> dict[str, Any]:
    out, err, res = streams.fds
    cpu = usage.ru_utime + usage.ru_stime
    outcome = _outcome(bytes(streams.data[res])) if res not in streams.over else None
    exc = outcome.get("exc") if outcome else None
    exc = exc if isinstance(exc, dict) else None
    exc_type = str(exc.get("type", "Exception"))[:200] if exc else None
    signum = -exit_status if exit_status < 0 else 0
    limit = stopped
    if limit is None:
        if signum == signal.SIGXCPU or (signum == signal.SIGKILL and cpu >= lim["cpu_s"] - 0.05):
            limit = "cpu"
        elif signum == signal.SIGXFSZ or (exc and exc.get("errno") == errno.EFBIG):
            limit = "fsize"
        elif exc_type == "MemoryError":
            limit = "memory"
        elif res in streams.over or (outcome and outcome.get("too_large")):
            limit = "output"
    got_value = outcome is not None and "value" in outcome
    report: dict[str, Any] = {
        "ok": got_value and exc is None and limit is None and exit_status == 0,
        "value": outcome.get("value") if got_value and outcome else None,
        "stdout": streams.data[out].decode("utf-8", "replace"),
        "stderr": streams.data[err].decode("utf-8", "replace"),
        "stdout_truncated": out in streams.over,
        "stderr_truncated": err in streams.over,
        "exc_type": exc_type,
        "exc_message": str(exc.get("message", ""))[:2000] if exc else "",
        "traceback": str(exc.get("traceback", ""))[:8000] if exc else "",
        "exit_status": exit_status,
        "limit": limit,
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 4),
    }
    if outcome is None and limit is None:
        report["exc_type"] = "SandboxError"
        report["exc_message"] = f"the program ended without a result (exit status {exit_status})"
    return report


def main() -> None:
    mode = sys.argv[1]
    if mode == NAMESPACE:
        view.build()
    else:
        guard.prepare()
    job = json.loads(sys.stdin.buffer.read() or b"null")
    if job is None:
        return  # a warm runner that was never used: the pool closed its stdin
    data = memoryview(json.dumps(supervise(job, mode)).encode())
    while data:
        data = data[os.write(1, data) :]
    os._exit(0)  # no interpreter teardown: the caller is waiting for this process to end

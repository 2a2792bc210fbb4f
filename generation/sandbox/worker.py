"""The forked child that becomes the program: its limits, its privileges, then its code.

Order matters: file descriptors first (the runner's report channel must be out of reach),
then the rlimits, then the uid or capabilities, then the guard, then the program. What
the program returns or raises goes back to the runner as one JSON object on fd 3.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import math
import os
import resource
import sys
import types

TYPE_CHECKING = False  # the runner's modules skip typing (and dataclasses): start-up time
if TYPE_CHECKING:
    from typing import Any, NoReturn

MB = 1024 * 1024
FILENAME = "<sandbox>"
RESULT_FD = 3
MAX_FDS = 256
TRACEBACK_CHARS = 8000
MESSAGE_CHARS = 2000
_PR_SET_NO_NEW_PRIVS, _PR_CAPBSET_DROP = 38, 24
_CAP_VERSION_3 = 0x20080522


def become(job: dict[str, Any], workdir: str, mode: str, out: int, err: int, res: int) -> None:
    lim = job["limits"]  # Limits.to_json()
    null = os.open("/dev/null", os.O_RDONLY)
    for fd, target in ((null, 0), (out, 1), (err, 2), (res, RESULT_FD)):
        os.dup2(fd, target)
    os.closerange(RESULT_FD + 1, 65536)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.chdir(workdir)
    os.environ.update(HOME=workdir, TMPDIR=workdir)
    cpu = max(1, math.ceil(lim["cpu_s"]))
    limits = {
        resource.RLIMIT_CPU: (cpu, cpu + 1),  # SIGXCPU, then SIGKILL a second later
        resource.RLIMIT_AS: (lim["memory_mb"] * MB,) * 2,
        resource.RLIMIT_FSIZE: (lim["file_mb"] * MB,) * 2,
        resource.RLIMIT_NOFILE: (MAX_FDS,) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }
    uid = job.get("uid")
    if uid is not None or mode == "namespace":
        # Counted per uid (and, since Linux 5.14, per user namespace): the slot's own uid
        # as root, the namespace's processes otherwise. Without either it would count
        # every process of the user, so the guard refuses forks instead.
        limits[resource.RLIMIT_NPROC] = (lim["procs"],) * 2
    for which, pair in limits.items():
        resource.setrlimit(which, pair)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # drops every capability
    if mode == "namespace":
        _no_privileges(drop_caps=uid is None)
    else:
        from generation.sandbox import guard

        guard.install(workdir)  # last: nothing after it may need what it refuses


def _no_privileges(*, drop_caps: bool) -> None:
    """No setuid gains on exec; and, as root of a user namespace, no capabilities at all."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if not drop_caps:
        return
    for cap in range(64):  # the bounding set first, or an exec as uid 0 would get them back
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable × 2: all zero
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def execute(code: str, inputs: Any, entry: str | None) -> dict[str, Any]:
    """Run the program: a script (entry None), or a module whose `entry` is called with
    `inputs` (a dict: keyword arguments; a list: positional ones; None: none; else one)."""
    scope = {"__name__": "__main__" if entry is None else "__sandbox__", "inputs": inputs}
    scope["__builtins__"] = builtins
    try:
        exec(compile(code, FILENAME, "exec"), scope)  # noqa: S102 - running it is the point
        if entry is None:
            return {"value": None}
        fn = scope.get(entry)
        if not callable(fn):
            raise NameError(f"the program defines no function {entry!r}")
        if isinstance(inputs, dict):
            value = fn(**inputs)
        elif isinstance(inputs, list):
            value = fn(*inputs)
        else:
            value = fn() if inputs is None else fn(inputs)
        if isinstance(value, types.CoroutineType):
            import asyncio

            value = asyncio.run(value)
        return {"value": value}
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return {"value": None, "exit": exc.code or 0}
        sys.stderr.write(f"{exc.code}\n")
        return {"value": None, "exit": 1}
    except BaseException as exc:  # the program's own failure, reported as data
        return {"exc": describe(exc, code)}


def describe(exc: BaseException, code: str = "") -> dict[str, Any]:
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != FILENAME:
        tb = tb.tb_next  # start at the program's frames, not the runner's
    try:
        message = str(exc)[:MESSAGE_CHARS]
    except BaseException:  # a hostile __str__, or no memory left
        message = "(the exception could not be formatted)"
    try:
        import linecache  # here, not above: most programs never need them
        import traceback

        linecache.cache[FILENAME] = (len(code), None, code.splitlines(True), FILENAME)
        text = "".join(traceback.format_exception(type(exc), exc, tb))[-TRACEBACK_CHARS:]
    except BaseException:
        text = ""
    errno = exc.errno if isinstance(exc, OSError) else None
    return {"type": type(exc).__name__, "message": message, "traceback": text, "errno": errno}


def report(outcome: dict[str, Any], result_kb: int) -> None:
    try:
        data = json.dumps(outcome, allow_nan=False)
    except BaseException as exc:
        bad = ValueError(f"the return value is not JSON-serialisable: {type(exc).__name__}")
        data = json.dumps({"exc": describe(bad)})
    if len(data) > result_kb * 1024:
        big = ValueError(f"the return value is {len(data)} bytes, over {result_kb} KB")
        data = json.dumps({"exc": describe(big), "too_large": True})
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # the runner stopped reading
            stream.flush()
    view = memoryview(data.encode())
    while view:
        view = view[os.write(RESULT_FD, view) :]


def main(job: dict[str, Any], workdir: str, mode: str, fds: tuple[int, int, int]) -> NoReturn:
    try:
        become(job, workdir, mode, *fds)
    except BaseException as exc:
        os.write(2, f"sandbox set-up failed: {exc!r}\n".encode())
        os._exit(70)
    outcome = execute(job["code"], job.get("inputs"), job.get("entry"))
    try:
        report(outcome, int(job["limits"]["result_kb"]))
    except BaseException:
        os._exit(71)
    os._exit(int(outcome.get("exit", 0)) & 0xFF)

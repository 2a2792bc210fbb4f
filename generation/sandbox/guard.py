"""The guard: where the kernel gives no namespaces, an audit hook fences the program in.

Installed by the worker just before the program runs (guard mode only). It refuses, with
PermissionError:
- every socket operation but making an AF_UNIX socket (asyncio's socketpair): so no
  connect, bind or send anywhere, loopback included; ctypes; process creation
  (fork, exec, spawn, subprocess, os.system), signals to other processes, and the gc
  walks that would let a program reach this hook's own state;
- opening, listing or changing a path outside what the program may see: writes only in
  its working directory; reads there, in the system and stdlib directories (view.py's
  `read_roots`, minus every site-/dist-packages directory) and a few devices.
Paths are resolved (symlinks included) before the check.

An audit hook is not a security boundary (CPython says so: a determined program can get
around it); it is the fallback. Where the worker runs as root it also drops to an
unprivileged uid, so the kernel refuses the project's files that only root may read
(.env is 0600), and the rlimits hold either way. Namespaces are the real fence.
"""

from __future__ import annotations

import os
import sys

from generation.sandbox import view

TYPE_CHECKING = False  # no typing at run time: start-up time (see worker.py)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

REFUSED = (
    "socket.",
    "ctypes.",
    "subprocess.",
    "pty.",
    "gc.get_",
    "os.fork",
    "os.forkpty",
    "os.exec",
    "os.spawn",
    "os.posix_spawn",
    "os.system",
    "os.startfile",
    "os.kill",
    "os.killpg",
    "os.pidfd_open",
)
AF_UNIX = 1  # Linux; socket itself is not imported here
# _posixsubprocess is loaded (defused) before the hook, so an import event means a re-import.
REFUSED_IMPORTS = frozenset({"ctypes", "_ctypes", "_posixsubprocess", "_xxsubinterpreters"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Events that change a path → the positions of their path arguments.
_CHANGES = {
    "os.mkdir": (0,),
    "os.rmdir": (0,),
    "os.remove": (0,),
    "os.rename": (0, 1),
    "os.symlink": (1,),
    "os.link": (0, 1),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.chflags": (0,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "shutil.copyfile": (1,),
    "shutil.rmtree": (0,),
}


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r + "/") for r in roots)


def hook_for(workdir: str) -> Callable[[str, tuple[Any, ...]], None]:
    work = (os.path.realpath(workdir),)
    readable = tuple(view.read_roots()) + work + view.DEVICES
    hidden = tuple(view.hidden())

    def resolve(path: Any) -> str | None:
        if isinstance(path, int):
            return None  # an open file descriptor: it passed this check when it was opened
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return os.path.realpath(path) if isinstance(path, str) else ""

    def may_read(path: str) -> bool:
        return _under(path, readable) and not _under(path, hidden)

    def may_write(path: str) -> bool:
        return _under(path, work) or path in view.DEVICES

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.__new__" and len(args) > 1 and args[1] == AF_UNIX:
            return  # a local pair (asyncio's self-pipe); connecting it anywhere is refused
        if event.startswith(REFUSED):
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "import" and args[0].partition(".")[0] in REFUSED_IMPORTS:
            raise PermissionError(f"sandbox: import {args[0]} is not allowed")
        if event == "open":
            path = resolve(args[0])
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            ok = may_write if flags & _WRITE_FLAGS else may_read
            if path is not None and not ok(path):
                raise PermissionError(f"sandbox: {args[0]!r} is outside what it may open")
        elif event in ("os.listdir", "os.scandir"):
            path = resolve(args[0] if args and args[0] is not None else ".")
            if path is not None and not may_read(path):
                raise PermissionError(f"sandbox: {args[0]!r} is outside what it may list")
        elif event in _CHANGES:
            for i in _CHANGES[event]:
                path = resolve(args[i]) if len(args) > i else None
                if path is not None and not may_write(path):
                    raise PermissionError(f"sandbox: {args[i]!r} is outside its working dir")

    return hook


def _refused(*args: Any) -> None:
    raise PermissionError("sandbox: creating a process is not allowed")


def prepare() -> None:
    """In the runner, before the job: what every worker's hook needs (forks inherit it)."""
    view.read_roots()
    view.hidden()
    import _posixsubprocess  # noqa: F401 - loaded here, defused by install()


def install(workdir: str) -> None:
    # subprocess (which asyncio imports) takes fork_exec from _posixsubprocess, which
    # raises no audit event: it is loaded with fork_exec replaced, and a re-import refused.
    import _posixsubprocess

    _posixsubprocess.fork_exec = _refused  # type: ignore[assignment]
    sys.addaudithook(hook_for(workdir))

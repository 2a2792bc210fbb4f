"""What a sandboxed program sees of the filesystem.

Namespace mode (`build`, run by the runner as root of a fresh mount namespace): the root
becomes a small tmpfs holding read-only, nosuid bind mounts of the system directories
(/usr and its symlinks) and the interpreter's standard library, with every site- and
dist-packages directory hidden under an empty read-only tmpfs; a few devices (/dev/null,
/dev/urandom, …); an empty read-only /tmp; and /sandbox, the program's throw-away working
directory, a size-capped tmpfs that vanishes with the namespace. The old root is detached
(pivot_root), so the project, its .env, /tmp and /home are simply not there.

The guard (guard.py) reuses `read_roots` and `hidden` to decide the same thing by path.
Stdlib only: the runner imports this before anything else.
"""

# os.path, not pathlib: the runner imports this module on every call's start-up (~3 ms).
# ruff: noqa: PTH103, PTH110, PTH112, PTH114, PTH115, PTH120, PTH207, PTH211

from __future__ import annotations

import functools
import glob
import os
import sys

TYPE_CHECKING = False  # no typing at run time: start-up time (see worker.py)
if TYPE_CHECKING:
    from typing import Any

WORKDIR = "/sandbox"
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
HIDDEN = (  # packages outside the stdlib: the program gets the stdlib only
    "/usr/lib/python3*/dist-packages",
    "/usr/lib/python3*/site-packages",
    "/usr/local/lib/python3*/dist-packages",
    "/usr/local/lib/python3*/site-packages",
)
# Empty and read-only in the view, so that writes there fail.
EMPTY_DIRS = ("/tmp", "/var/tmp", "/home", "/root", "/etc")  # noqa: S108 - paths in the view

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
_KEEP = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC))
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
# Exists everywhere; the tmpfs mounted on it hides the host's /tmp in this namespace only.
_NEW_ROOT = "/tmp"  # noqa: S108


@functools.cache
def stdlib_roots() -> list[str]:
    """The interpreter's own directories on sys.path (the runner runs with -I -S)."""
    return sorted({os.path.realpath(p) for p in sys.path if p and os.path.exists(p)})


@functools.cache
def hidden() -> list[str]:
    prefix = os.path.realpath(sys.base_prefix)
    found = [p for pattern in HIDDEN for p in glob.glob(pattern)]
    found += glob.glob(f"{prefix}/lib/python3*/site-packages")
    return sorted({os.path.realpath(p) for p in found if os.path.isdir(p)})


@functools.cache
def read_roots() -> list[str]:
    return sorted({*(os.path.realpath(p) for p in SYSTEM if os.path.exists(p)), *stdlib_roots()})


@functools.cache
def _libc() -> Any:
    # Imported here, not above: the guard mode's runner must never have ctypes loaded.
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(value: str | None) -> bytes | None:
    return None if value is None else value.encode()


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    import ctypes

    rc = _libc().mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data or None))
    _check(rc, f"mount {target}")


def _bind_read_only(source: str, target: str) -> None:
    mount(source, target, None, MS_BIND | MS_REC)
    # A bind mount takes the read-only flag only on remount, which must keep the flags the
    # source is locked with (inside a user namespace): nosuid, nodev, noexec.
    flags = os.statvfs(source).f_flag
    kept = sum(ms for st, ms in _KEEP if flags & st)
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept)


def _place(path: str, *, directory: bool) -> str:
    target = _NEW_ROOT + path
    if directory:
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        open(target, "a").close()
    return target


def build() -> None:
    """Make this mount namespace's root the sandbox's view (see the module's docstring)."""
    roots = read_roots()
    roots = [r for r in roots if not any(r.startswith(other + "/") for other in roots)]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", _NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for path in SYSTEM:
        if os.path.islink(path):  # merged /usr: /bin -> usr/bin
            os.symlink(os.readlink(path), _NEW_ROOT + path)
    for path in roots:
        _bind_read_only(path, _place(path, directory=True))
    for path in hidden():
        if any(path.startswith(root + "/") or path == root for root in roots):
            mount("tmpfs", _NEW_ROOT + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k")
    for path in DEVICES:
        if os.path.exists(path):
            mount(path, _place(path, directory=False), None, MS_BIND)
    for path in (*EMPTY_DIRS, WORKDIR):
        _place(path, directory=True)
    os.chdir(_NEW_ROOT)
    # pivot_root(".", "."), then detach the old root stacked on top (pivot_root(2), NOTES).
    _check(_libc().syscall(_PIVOT_ROOT[os.uname().machine], b".", b"."), "pivot_root")
    _check(_libc().umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def mount_workdir(size_mb: int, uid: int) -> str:
    """The program's working directory: an empty tmpfs of `size_mb`, owned by `uid`."""
    opts = f"size={size_mb}m,mode=0700,uid={uid},gid={uid}"
    mount("tmpfs", WORKDIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts)
    return WORKDIR

"""How a runner process is started, in each isolation mode.

- namespace: `unshare --net --mount --pid --fork --kill-child`, plus `--user
  --map-root-user` when not root. The runner is pid 1 of its own pid namespace, has a
  network namespace with nothing in it (loopback down), and a mount namespace whose root is
  the read-only view (view.py). As root, the program also runs as an unprivileged uid of
  its own (Config.uid + slot), so RLIMIT_NPROC applies to it.
- guard: no namespaces (a container without CAP_SYS_ADMIN or user namespaces); an audit
  hook (guard.py), the rlimits, and as root the uid drop.

`auto` (the default) probes once per worker process with a real program and falls back to
the guard if the namespace runner cannot start or run it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

NAMESPACE, GUARD = "namespace", "guard"
MODES = (NAMESPACE, GUARD)
ROOT = str(Path(__file__).resolve().parent.parent.parent)
# The runner's whole environment: nothing of the worker's (keys, database URLs) leaks in.
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
_BOOT = (
    f"import sys; sys.path.insert(0, {ROOT!r}); "
    "from generation.sandbox.runner import main; del sys.path[0]; main()"
)


def unshare() -> str | None:
    return shutil.which("unshare", path=ENV["PATH"])


def command(mode: str) -> list[str]:
    # The venv's interpreter, isolated (-I: no environment, no user site, no script dir on
    # sys.path), without site (-S: the stdlib only) and without writing bytecode (-B).
    python = [sys.executable, "-I", "-S", "-B", "-c", _BOOT, mode]
    if mode == GUARD:
        return python
    flags = ["--net", "--mount", "--pid", "--fork", "--kill-child"]
    if os.geteuid() != 0:
        flags = ["--user", "--map-root-user", *flags]
    return [unshare() or "unshare", *flags, "--", *python]

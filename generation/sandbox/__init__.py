"""The sandbox: the only place that runs generated code. Every program it runs is untrusted.

    result = await sandbox.run(code, inputs={"n": 3}, entry="solve", limits=Limits(wall_s=2))

A program runs in a fresh process of its own (pool.py), fenced in by namespaces where the
kernel allows them, else by a guard (isolation.py), under rlimits (worker.py), and comes
back as a `Result` whatever it did. `describe()` is what the run page shows.

The runner process imports this package too, with the stdlib only and on every call's
start-up, so nothing is imported here: the names below load on first use. (Nor may the
runner's modules import subprocess: the guard must not find _posixsubprocess loaded.)
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: importing typing would cost the runner ~8 ms
if TYPE_CHECKING:
    from typing import Any

    from generation.sandbox.limits import Config as Config
    from generation.sandbox.limits import Limits as Limits
    from generation.sandbox.limits import describe as describe
    from generation.sandbox.pool import reset as reset
    from generation.sandbox.pool import run as run
    from generation.sandbox.pool import run_sync as run_sync
    from generation.sandbox.pool import sandbox as sandbox
    from generation.sandbox.result import LIMITS as LIMITS
    from generation.sandbox.result import Result as Result

_WHERE = {"Config": "limits", "Limits": "limits", "describe": "limits", "LIMITS": "result"}
_WHERE |= {"Result": "result", "reset": "pool", "run": "pool", "run_sync": "pool"}
_WHERE |= {"sandbox": "pool"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"generation.sandbox.{_WHERE[name]}"), name)

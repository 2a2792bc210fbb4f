"""What a sandboxed program may use, and how the sandbox is set up.

`Limits` travel with each call (and into the runner as JSON); their defaults, and the
sandbox's `Config`, come from the Django settings `SEEDBED_SANDBOX_*` when Django is
configured, else from the constants here. Stdlib only at import: the runner imports it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

MB = 1024 * 1024
# Django setting (without the SEEDBED_SANDBOX_ prefix) → Limits field, with the default.
_LIMIT_SETTINGS = {
    "WALL_SECONDS": ("wall_s", 5.0),
    "CPU_SECONDS": ("cpu_s", 5.0),
    "MEMORY_MB": ("memory_mb", 512),
    "FILE_MB": ("file_mb", 16),
    "DISK_MB": ("disk_mb", 64),
    "PROCS": ("procs", 32),
    "OUTPUT_KB": ("output_kb", 64),
    "RESULT_KB": ("result_kb", 1024),
}


def _setting(name: str, default: Any) -> Any:
    from django.conf import settings

    if not settings.configured:
        return default
    value = getattr(settings, f"SEEDBED_SANDBOX_{name}", None)
    return default if value is None else value


@dataclass(frozen=True)
class Limits:
    """Per call. Sizes are MB/KB so that the run page and settings read plainly."""

    wall_s: float = 5.0  # wall clock, from the program's start to its end
    cpu_s: float = 5.0  # RLIMIT_CPU of each of its processes
    memory_mb: int = 512  # RLIMIT_AS of each of its processes
    file_mb: int = 16  # RLIMIT_FSIZE: the largest file it may write
    disk_mb: int = 64  # its whole working directory (a tmpfs, where namespaces allow)
    procs: int = 32  # RLIMIT_NPROC of its uid: processes and threads together
    output_kb: int = 64  # stdout and stderr each; beyond it the program is stopped
    result_kb: int = 1024  # the JSON of the return value

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) <= 0:
                raise ValueError(f"sandbox limit {f.name} must be positive")

    @classmethod
    def defaults(cls) -> Limits:
        values: dict[str, Any] = {}
        for name, (field, default) in _LIMIT_SETTINGS.items():
            values[field] = type(default)(_setting(name, default))
        return cls(**values)

    @classmethod
    def of(cls, **overrides: Any) -> Limits:
        """The defaults with some fields changed (`it.exec(code, inputs, wall_s=2)`)."""
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown sandbox limits: {', '.join(sorted(unknown))}")
        return replace(cls.defaults(), **overrides)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Limits:
        return cls(**data)


@dataclass(frozen=True)
class Config:
    """How the sandbox runs (not per call)."""

    isolation: str = "auto"  # auto | namespace | guard (see isolation.py)
    concurrency: int = 2  # programs at once, per worker process (default: the CPU count)
    warm: int = 2  # runners started ahead of need, per isolation mode (0: none)
    uid: int = 61000  # as root, call slot k runs as uid+k (0: do not change uid)

    def __post_init__(self) -> None:
        if self.isolation not in ("auto", "namespace", "guard"):
            raise ValueError(f"SEEDBED_SANDBOX_ISOLATION: {self.isolation!r} is not one of "
                             "auto, namespace, guard")  # fmt: skip
        if self.concurrency < 1 or self.warm < 0 or self.uid < 0:
            raise ValueError("SEEDBED_SANDBOX_CONCURRENCY must be ≥ 1, WARM and UID ≥ 0")

    @classmethod
    def load(cls) -> Config:
        return cls(
            isolation=str(_setting("ISOLATION", "auto")),
            concurrency=int(_setting("CONCURRENCY", max(2, os.cpu_count() or 2))),
            warm=int(_setting("WARM", 2)),
            uid=int(_setting("UID", 61000)),
        )


def describe(limits: Limits | None = None, config: Config | None = None) -> list[tuple[str, str]]:
    """The sandbox's limits as (label, value) rows, for the run page."""
    lim = limits or Limits.defaults()
    cfg = config or Config.load()
    isolation = {
        "auto": "namespaces where the kernel allows them, else the guard",
        "namespace": "namespaces (no network, read-only view of the system)",
        "guard": "guard: an audit hook refuses sockets, processes and files outside",
    }.get(cfg.isolation, cfg.isolation)
    return [
        ("Wall time", f"{lim.wall_s:g} s"),
        ("CPU time", f"{lim.cpu_s:g} s per process"),
        ("Memory", f"{lim.memory_mb} MB per process"),
        ("Files", f"{lim.file_mb} MB each, {lim.disk_mb} MB in all"),
        ("Processes", f"{lim.procs}"),
        ("Output", f"{lim.output_kb} KB each of stdout and stderr"),
        ("Network", "none"),
        ("Isolation", isolation),
        ("At once", f"{cfg.concurrency} programs per worker"),
    ]

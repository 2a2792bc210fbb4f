"""What a sandboxed program did, as plain data.

A hostile or broken program is a `Result` (ok=False, with the limit it hit or the
exception it raised), never an exception in the caller. The value, exception and output
fields are what the program's own process reported: it can make them say anything, as it
can return anything. The limit, exit status and timings are measured outside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

# Which limit stopped the program.
LIMITS = ("timeout", "cpu", "memory", "fsize", "output")


@dataclass(frozen=True)
class Result:
    ok: bool  # it ran to the end: no exception, no limit, exit status 0, a result came back
    value: Any = None  # the entry function's JSON return value (None for a script)
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    exc_type: str | None = None  # "ZeroDivisionError", …; "SandboxError" when it left no result
    exc_message: str = ""
    traceback: str = ""
    exit_status: int | None = None  # the process's exit code; -N when killed by signal N
    limit: str | None = None  # one of LIMITS
    wall_s: float = 0.0  # the program, from its start to its end
    cpu_s: float | None = None  # user + system CPU of its process (and reaped children)
    elapsed_s: float = 0.0  # the whole call as the caller saw it (start-up included)
    isolation: str = ""  # namespace | guard: how it was fenced in

    @property
    def error(self) -> str:
        """One line for a per-item error: the limit hit, or the exception."""
        if self.ok:
            return ""
        if self.limit:
            return f"sandbox limit: {self.limit}"
        if self.exc_type:
            return f"{self.exc_type}: {self.exc_message}"[:500]
        return f"exit status {self.exit_status}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def broken(cls, message: str, **measured: Any) -> Result:
        """The runner itself gave no report (killed from outside, or it crashed)."""
        return cls(ok=False, exc_type="SandboxError", exc_message=message, **measured)

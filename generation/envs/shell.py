"""A file-system and shell env, AgentBench-OS style, inside the sandbox.

Task: `{"question": "…", "files": {"notes/a.txt": "…", "empty_dir/": null}, "setup": "sh …",
"answer": "expected", "check": "sh script"}`. The agent runs shell commands (`/bin/sh -c`,
each a fresh sandboxed process that sees the episode's files in its working directory);
the files it leaves are the state. The checker passes when the final answer equals
`answer` (trimmed, case-insensitive) if one is given, and when `check` exits 0 if one is
given (it runs on the final files with the answer in $ANSWER); at least one is required.

Deviations from AgentBench-OS: no Docker image per task; the sandbox's /bin and /usr are
the tools there are (read-only), there is no network, and only regular files under the
working directory persist between steps (at most 256 KB in all). Needs the sandbox's
namespace isolation: the guard refuses process creation, and the env then says so.
"""

from __future__ import annotations

from typing import Any

from generation.envs.base import Env, Observation, Verdict, clip, tool
from generation.sandbox import Limits, run

MAX_FILES_BYTES = 256 * 1024
COMMAND_TIMEOUT_S = 5
LIMITS = Limits.of(wall_s=COMMAND_TIMEOUT_S + 3, memory_mb=256, procs=32)

PROGRAM = r"""
import os, subprocess

def _write(files):
    for path, content in files.items():
        if path.startswith("/") or ".." in path.split("/"):
            continue
        if content is None or path.endswith("/"):
            os.makedirs(path.rstrip("/"), exist_ok=True)
            continue
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)

def _read(limit):
    files, total, dropped = {}, 0, []
    for root, dirs, names in os.walk("."):
        dirs.sort()
        rel_root = os.path.relpath(root, ".")
        if rel_root != "." and not names and not dirs:
            files[rel_root + "/"] = None
        for name in sorted(names):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, ".")
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            size = os.path.getsize(path)
            if total + size > limit:
                dropped.append(rel)
                continue
            with open(path, "rb") as f:
                files[rel] = f.read().decode("utf-8", "replace")
            total += size
    return files, dropped

def main(files, command, answer, timeout, limit):
    _write(files)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.getcwd(), "LANG": "C.UTF-8",
           "ANSWER": answer or ""}
    try:
        p = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                           timeout=timeout, env=env, errors="replace")
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as exc:
        raw = exc.stdout or ""
        out = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        err, rc = f"timed out after {timeout} s", 124
    files, dropped = _read(limit)
    return {"stdout": out, "stderr": err, "rc": rc, "files": files, "dropped": dropped}
"""


class ShellEnv(Env):
    name = "shell"

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, str | None] = {}

    def actions(self) -> list[dict[str, Any]]:
        return [
            tool(
                "run_shell",
                "Run a shell command (/bin/sh) in the working directory and see its output. "
                "Files you write there stay for the next command; there is no network.",
                command={"type": "string", "description": "The command line."},
            )
        ]

    async def _sh(self, command: str, answer: str | None = None) -> dict[str, Any]:
        inputs = {"files": self.files, "command": command, "answer": answer,
                  "timeout": COMMAND_TIMEOUT_S, "limit": MAX_FILES_BYTES}  # fmt: skip
        result = await run(PROGRAM, inputs, entry="main", limits=LIMITS)
        if not result.ok or not isinstance(result.value, dict):
            detail = result.error
            if result.isolation == "guard" and "PermissionError" in detail:
                detail += " (the shell env needs the sandbox's namespace isolation)"
            raise ValueError(detail or "the command returned nothing")
        return result.value

    async def start(self, task: dict[str, Any]) -> Observation:
        files = task.get("files") or {}
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in files.items()
        ):
            raise ValueError("shell: 'files' maps paths to text (or null for a directory)")
        if not task.get("answer") and not task.get("check"):
            raise ValueError("shell: a task needs an 'answer' or a 'check' script")
        self.files = dict(files)
        if isinstance(task.get("setup"), str) and task["setup"].strip():
            try:
                out = await self._sh(task["setup"])
            except ValueError as exc:
                raise ValueError(f"shell: the task's setup fails: {exc}") from exc
            if out["rc"] != 0:
                raise ValueError(
                    f"shell: the task's setup exits {out['rc']}: {out['stderr'][:300]}"
                )
            self.files = out["files"]
        listing = "\n".join(sorted(self.files)) or "(empty)"
        return Observation(clip(f"{task.get('question', '')}\n\nFiles:\n{listing}"))

    async def act(self, name: str, arguments: dict[str, Any]) -> Observation:
        command = arguments.get("command")
        if not isinstance(command, str) or not command.strip():
            return Observation("Error: run_shell needs a 'command' string.", error=True)
        try:
            out = await self._sh(command)
        except ValueError as exc:
            return Observation(f"Error: {exc}", error=True)
        self.files = out["files"]
        text = out["stdout"] + (f"\n[stderr]\n{out['stderr']}" if out["stderr"] else "")
        if out["dropped"]:
            text += f"\n[not kept: {', '.join(out['dropped'][:5])}: over {MAX_FILES_BYTES} bytes]"
        text += f"\n[exit {out['rc']}]"
        return Observation(clip(text.strip()), error=out["rc"] != 0, data={"rc": out["rc"]})

    async def judge(self) -> Verdict:
        if self.answer is None:
            return Verdict(False, 0.0, ("no final answer",))
        reasons, ok = [], True
        expected = self.task.get("answer")
        if expected is not None:
            same = " ".join(str(expected).split()).lower() == " ".join(self.answer.split()).lower()
            reasons.append("the answer matches" if same else f"the answer is not {str(expected)!r}")
            ok = ok and same
        script = self.task.get("check")
        if isinstance(script, str) and script.strip():
            try:
                out = await self._sh(script, answer=self.answer)
                passed = out["rc"] == 0
            except ValueError as exc:
                passed, out = False, {"stderr": str(exc)}
            reasons.append(
                "the check script passes"
                if passed
                else f"the check script fails: {out['stderr'][:200]}"
            )
            ok = ok and passed
        return Verdict(ok, 1.0 if ok else 0.0, tuple(reasons))

    def save(self) -> Any:
        return self.files

    def load(self, state: Any) -> None:
        self.files = dict(state)

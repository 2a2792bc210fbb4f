"""CodeAct's interactive session: an agent's code actions, a kernel emulated in the
sandbox, and the observations and feedback it gets back.

Each sandbox call is a fresh process, while CodeAct's agent talks to a Jupyter kernel whose
variables persist. We emulate the kernel by re-running the earlier cells, their output
and errors thrown away, before the new cell: what a cell defined before it raised stays
defined, as in Jupyter. A cell stopped by a limit (a loop that never ends) is not re-run.
As in Jupyter, a cell ending in an expression shows its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from generation.recipes.kit import answers
from generation.recipes.tora_trajectory import clip, python_block
from generation.sandbox import Result

STOP = ["\nObservation:"]
_EXECUTE = re.compile(r"<execute>(?P<code>.*?)(?:</execute>|\Z)", re.DOTALL | re.IGNORECASE)
_SOLUTION = re.compile(r"<solution>(?P<answer>.*?)(?:</solution>|\Z)", re.DOTALL | re.IGNORECASE)
INVALID = (
    "I don't understand your input. To run code, put it between <execute> and </execute>. "
    "To give your answer, put it between <solution> and </solution>."
)

# The kernel: `inputs["cells"]` are the earlier cells and the new one (ours, fixed).
KERNEL = """
import ast, contextlib, io
_scope = {"__name__": "__main__"}
*_done, _cell = inputs["cells"]
for _code in _done:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(Exception):
        exec(compile(_code, "<cell>", "exec"), _scope)
_tree = ast.parse(_cell, "<cell>")
_last = _tree.body.pop() if _tree.body and isinstance(_tree.body[-1], ast.Expr) else None
exec(compile(_tree, "<cell>", "exec"), _scope)
if _last is not None:
    _value = eval(compile(ast.Expression(_last.value), "<cell>", "eval"), _scope)
    if _value is not None:
        print(repr(_value))
"""


@dataclass(frozen=True)
class Action:
    """What one reply does: run `code`, propose `answer`, or neither (an invalid action)."""

    text: str  # the reply, cut after its action
    thought: str
    code: str | None = None
    answer: str | None = None


def action_of(reply: str) -> Action:
    """The reply's first action: an <execute> block (or a ```python block), else a
    <solution> (or a \\boxed{} answer). Whatever follows the action is cut: the model
    has not seen its result yet."""
    found: list[tuple[int, Action]] = []
    run = _EXECUTE.search(reply)
    if run is not None and run["code"].strip():
        text = reply[: run.end()].strip()
        text += "" if text.lower().endswith("</execute>") else "</execute>"
        found.append((run.start(), Action(text, reply[: run.start()].strip(), run["code"].strip())))
    head, code = python_block(reply)
    if code is not None:
        at = head.find("```")
        found.append((at, Action(head, head[:at].strip(), code)))
    said = _SOLUTION.search(reply)
    if said is not None and said["answer"].strip():
        text, thought = reply[: said.end()].strip(), reply[: said.start()].strip()
        found.append((said.start(), Action(text, thought, answer=said["answer"].strip())))
    if found:
        return min(found, key=lambda f: f[0])[1]
    boxed = answers.extract(reply, "math") if "\\boxed" in reply else None
    return Action(reply.strip(), "" if boxed else reply.strip(), answer=boxed)


def observation(result: Result, limit: int) -> str:
    """What the kernel shows for a cell: its output, then the error it ended with."""
    shown = clip(result.stdout, limit)
    if result.ok:
        return shown or "[the cell printed nothing]"
    error = (
        f"{result.exc_type}: {result.exc_message}"
        if result.exc_type and not result.limit
        else f"Stopped: {result.error}"
    )
    return f"{shown}\n{error}".strip()


def turn_info(turns_left: int, proposals_left: int) -> str:
    return (
        f"You have {turns_left} steps left and {proposals_left} chances to propose a solution left."
    )


@dataclass
class Session:
    """The episode so far: the chat, the cells that ran well, one step per action."""

    messages: list[dict[str, Any]]
    cells: list[str] = field(default_factory=list)  # those the kernel re-runs
    steps: list[dict[str, Any]] = field(default_factory=list)
    proposals: int = 0
    wrong: int = 0
    errors: int = 0
    invalid: int = 0
    answer: str | None = None

    @property
    def turns(self) -> int:
        return len(self.steps)

    @property
    def self_corrected(self) -> bool:
        """It erred first (code that raised, a wrong answer) and then got it right."""
        return self.errors + self.wrong > 0

    def step(self, action: Action, seen: str, *, error: bool, feedback: str = "") -> None:
        """The agent's reply, one step for review, and the user turn it sees next (if any)."""
        self.messages.append({"role": "assistant", "content": action.text})
        if action.code is not None:
            name, arguments = "execute_python", {"code": action.code}
        elif action.answer is not None:
            name, arguments = "solution", {"answer": action.answer}
        else:
            name, arguments = "invalid", {}
        act = {"name": name, "arguments": arguments}
        self.steps.append(
            {"thought": action.thought, "action": act, "observation": seen, "error": error}
        )
        if feedback:
            self.messages.append({"role": "user", "content": f"Observation:\n{feedback}"})

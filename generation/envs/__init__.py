"""Environments for agent trajectories (the ENV step, `it.env`): stateful, local,
deterministic, each with a checker.

- `SQLiteEnv` (sqlite_db.py): AgentBench-DB style SQL over a task's database, in the sandbox;
- `ShellEnv` (shell.py): AgentBench-OS style shell commands over a file tree, in the sandbox;
- `WorldEnv` (world.py, phone.py): ToolSandbox style tools over a Python state, with
  milestones and minefields;
- `DocSearchEnv` (docsearch.py): search, open and quote over the project's documents.

base.py is what they share (actions as OpenAI tools, Observation, Verdict, snapshots);
episode.py is the journaled ENV step of the recipe kit.
"""

from generation.envs.base import Env, Observation, Verdict
from generation.envs.docsearch import DocSearchEnv
from generation.envs.shell import ShellEnv
from generation.envs.sqlite_db import SQLiteEnv
from generation.envs.world import WorldEnv

__all__ = ["DocSearchEnv", "Env", "Observation", "SQLiteEnv", "ShellEnv", "Verdict", "WorldEnv"]

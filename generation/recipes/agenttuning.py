"""AgentTuning (METHODS.md #53, Zeng et al., Findings ACL 2024, arXiv 2310.12823): ReAct
agent trajectories in interactive environments, kept by the environment's reward.

① the task instance (an env_task seed: a database, a file tree or the phone world) → ② a
strong LLM acts ReAct-style (Thought + Action) in the ENV, one journaled step per action
(agent_loop.py) → ③ the env's checker gives the reward r → ④ keep the trajectory when it
finished with r ≥ the threshold (1: success only; lower keeps graded rewards such as the
phone world's share of milestones) → ⑤ FMT a multi-turn tool trajectory with the thoughts.

The AgentInstruct data is then mixed with general data (η = 0.2) when the agent is trained,
which happens outside Seedbed.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.agent_loop import STOP, act, begin, env_tasks, next_task, prompt_values
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.results import Gen

ENV_TASK = "env_task"


class Params(RecipeParams):
    max_steps: int = Field(
        8, ge=1, le=30, description="Actions per trajectory before it must answer (cap)."
    )
    reward_threshold: float = Field(
        1.0, ge=0.01, le=1.0, description="Keep a finished trajectory whose env reward is at "
        "least this (1 = success only; lower keeps partial graded rewards).",
    )  # fmt: skip
    temperature: float = Field(
        0.7, ge=0.0, le=2.0, description="For the agent: each pass over the tasks tries again."
    )
    step_tokens: int = Field(384, ge=64, le=4096, description="Budget of one agent step.")
    observation_chars: int = Field(
        1500, ge=100, le=20000, description="Characters of an observation shown to the agent."
    )


@kit.register
class AgentTuning(kit.Recipe[Params]):
    meta = kit.Meta(
        "agenttuning", "AgentTuning", entry=53, version="1", output="tool_trajectory",
        section="agent_flows", inputs=frozenset({ENV_TASK}), roles=(kit.POLICY,),
        summary="A ReAct agent (Thought + Action) acts in a database, shell or phone-world "
        "env on each task; trajectories whose env reward reaches the threshold are kept as "
        "multi-turn tool trajectories with their thoughts.",
        needs=(kit.Need("ENV", "the agent acts in a stateful environment with a checker",
                        "the local SQLite, shell and phone-world envs (generation/envs)"),),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "task", "The next env task, round-robin over the env_task seeds."),
        Step("ENV", "reset", "Start the task's env: the question and what there is (the "
             "database schema, the files, the phone's tools)."),
        Step("GEN", "act", "The agent's next step: Thought, Action, Action Input, or a "
             "Final Answer; each action runs in the env and its Observation is shown next."),
        Step("ENV", "reward", "The env's checker: the gold query's values or tables, the "
             "expected answer or check script, the milestones and minefields."),
        Step("CHECK", "reward", "A finished trajectory with reward ≥ the threshold is kept; "
             "a wrong answer, a malformed step or the step cap drops it."),
        Step("FMT", "tool_trajectory", "The task, assistant turns with their thought and one "
             "tool call, the env's observations as tool turns, the final answer."),
    )  # fmt: skip
    deviations = (
        "The environments are our local ones (generation/envs): SQLite for AgentBench-DB, a "
        "sandboxed shell for AgentBench-OS, and a phone world with milestones for the "
        "ToolSandbox-style tasks; ALFWorld, WebShop, Mind2Web and the knowledge graph "
        "(heavy or web environments) are out of scope.",
        "Tasks come from the project's env_task seeds; the paper's self-instruct generation "
        "of new DB and OS tasks is out of scope here, since a generated gold query or check "
        "cannot be verified without people.",
        "The agent speaks text ReAct (Thought / Action / Action Input / Final Answer) through "
        "our own prompt; the trajectory is exported as OpenAI tool-calling messages (the "
        "thought as the assistant content), not as the paper's plain chat turns.",
        "One trajectory per item: the run cycles through the tasks, so a later pass retries "
        "a task at the sampling temperature (the paper samples GPT-4 and filters). Repeated "
        "passes can keep the same trajectory twice; dedup downstream.",
        "The reward threshold for graded rewards, max_steps and the temperature are our "
        "defaults (the paper gives none); no leakage check against evaluation sets is made.",
        "Mixing with general data (η = 0.2) happens when the agent is trained, outside "
        "Seedbed; export this run together with a general SFT set in that ratio.",
    )

    async def setup(self, run: Any) -> None:
        self.tasks = env_tasks(run.seeds)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("agenttuning")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        seed = next_task(it, self.tasks, "AgentTuning")
        episode, tools, task = await begin(it, seed)

        async def ask(scratchpad: str) -> Gen:
            return await it.gen(
                "act", **prompt_values(task, tools, scratchpad), temperature=p.temperature,
                max_tokens=p.step_tokens, stop=STOP,
            )  # fmt: skip

        attempt = await act(
            episode, ask, max_steps=p.max_steps, observation_chars=p.observation_chars
        )
        why = "; ".join(attempt.verdict.reasons)
        it.check(attempt.ended != "malformed", "malformed_action", attempt.problem)
        it.check(attempt.ended == "finished", "no_final_answer", f"{p.max_steps} actions")
        reward = attempt.verdict.score
        it.check(reward > 0, "task_failed", why)
        it.check(reward >= p.reward_threshold, "below_reward_threshold", f"{reward:.2f}: {why}")
        env = attempt.env_extra(seed)
        extra = {
            "source": "recipe:agenttuning",
            "env": env,
            "steps": attempt.steps(),
            "trajectory_id": it.key,
            "metadata": {
                "reward": reward,
                "actions": len(attempt.done) - 1,
                "success": attempt.success,
            },
            "tags": [f"env:{env['name']}"],
        }
        return fmt.tool_trajectory(attempt.messages(), tools, step="trajectory", extra=extra)

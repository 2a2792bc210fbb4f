"""A Self-Rewarding run against the fake server whose judge is sure on half the pairs.

Six seed tasks; each gets four responses A-D, judged three times each. On tasks 1-3 every
judge sample agrees (A: 5 5 5, D: 1 1 1), so the pair's confidence is 1.0; on tasks 4-6 the
samples for A scatter (5 2 5: mean 4, confidence 1 − 1.41 / 2.5 = 0.43). With "review below
0.8", exactly the pairs of tasks 4-6 go to people.
"""

from __future__ import annotations

import json
import re
from typing import Any

from curation.projects import services as project_services
from curation.seeds.services import import_seed_set
from generation.runs import services
from generation.runs.models import Run

TASKS = [f"Task {n}: say something kind about the number {n}." for n in range(1, 7)]
SCATTERED = {"Task 4", "Task 5", "Task 6"}
SURE = {"A": [5, 5, 5], "B": [3, 3, 3], "C": [3, 3, 3], "D": [1, 1, 1]}
UNSURE = {**SURE, "A": [5, 2, 5]}
SCATTERED_CONFIDENCE = 0.4343  # 1 − pstdev([5, 2, 5]) / 2.5


def judge(body: dict[str, Any]) -> list[str]:
    text = body["messages"][-1]["content"]
    response = text.split("<response>")[-1]
    found = re.search(r"([A-D]) answer to (Task \d)", response)
    assert found, response
    letter, task = found.groups()
    scores = (UNSURE if task in SCATTERED else SURE)[letter]
    return [f"Reasons.\nScore: {s}" for s in scores]


def respond(body: dict[str, Any]) -> list[str]:
    task = re.search(r"Task \d", body["messages"][-1]["content"]).group(0)  # type: ignore[union-attr]
    return [f"{letter} answer to {task}." for letter in "ABCD"]


def script(fake: Any) -> None:
    fake.script(r"additive 5-point", judge)
    fake.script(r"^Task \d", respond)


def start(
    fake: Any, owner: Any, project: Any, *, review_below: float | None = 0.8, **kwargs: Any
) -> Run:
    """Run Self-Rewarding over the six tasks (eagerly, as tests run Celery)."""
    script(fake)
    seed_set = project.seed_sets.filter(name="Unsure tasks").first()
    if seed_set is None:
        lines = "\n".join(json.dumps({"instruction": t, "output": "ok"}) for t in TASKS)
        seed_set = import_seed_set(owner, project, name="Unsure tasks", data=lines.encode())
    endpoint = project.endpoints.filter(name="fake").first() or project_services.save_endpoint(
        owner,
        project,
        name="fake",
        base_url=fake.base_url,
        chat_model="fake-model",
        max_concurrency=8,
        is_default=True,
    )
    run = services.start_run(
        owner,
        project,
        recipe_id="self_rewarding",
        endpoint=endpoint,
        seed_set=seed_set,
        params={"generate_prompts": False},
        target_count=6,
        review_below=review_below,
        **kwargs,
    )
    run.refresh_from_db()
    return run


def task_of(sample: Any) -> str:
    return str(sample.messages[-1]["content"])[:6]

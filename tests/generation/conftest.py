"""A project with seeds and an endpoint pointing at the fake OpenAI server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from curation.projects import services as project_services
from curation.projects.models import ModelEndpoint, Project
from curation.seeds.models import SeedSet
from curation.seeds.services import import_seed_set
from generation.runs import services
from generation.runs.models import Run
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

SEEDS = [
    ("Write a short poem about the sea.", "", "Waves fold in silver light."),
    ("Classify the sentiment of the review as positive or negative.", "Great food!", "positive"),
    ("Convert the temperature from Celsius to Fahrenheit.", "100 °C", "212 °F"),
    (
        "Summarise the paragraph in one sentence.",
        "Bees pollinate crops. Crops feed us.",
        "Bees help feed us by pollinating crops.",
    ),
    (
        "Give three tips for staying focused while studying.",
        "",
        "1. Silence your phone. 2. Take breaks. 3. Set goals.",
    ),
    (
        "Explain what a prime number is to a child.",
        "",
        "A number you can only split evenly by 1 and itself.",
    ),
]


@dataclass
class Bench:
    project: Project
    owner: Any
    seed_set: SeedSet
    endpoint: ModelEndpoint

    def start(self, recipe: str, target: int, **kwargs: Any) -> Run:
        run = services.start_run(
            self.owner,
            self.project,
            recipe_id=recipe,
            endpoint=self.endpoint,
            seed_set=kwargs.pop("seed_set", self.seed_set),
            target_count=target,
            **kwargs,
        )
        run.refresh_from_db()
        return run


def varied_judge(body: dict[str, Any]) -> str:
    """Judge replies that differ by response, so Self-Rewarding finds best and worst."""
    response = body["messages"][-1]["content"].split("<response>")[-1]
    return f"Score: {sum(map(ord, response)) % 6}"


@pytest.fixture
def bench(fake_llm: Any, settings: Any) -> Bench:
    settings.SEEDBED_LLM_MAX_RETRIES = 1
    owner = UserFactory(username="gen-owner")
    project = ProjectFactory(name="Gen")
    MembershipFactory(project=project, user=owner, role="owner")
    lines = "\n".join(json.dumps({"instruction": i, "input": x, "output": o}) for i, x, o in SEEDS)
    seed_set = import_seed_set(owner, project, name="Seeds", data=lines.encode())
    endpoint = project_services.save_endpoint(
        owner,
        project,
        name="fake",
        base_url=fake_llm.base_url,
        chat_model="fake-model",
        max_concurrency=8,
        is_default=True,
        price_in_per_1k=0.001,
        price_out_per_1k=0.002,
    )
    return Bench(project, owner, seed_set, endpoint)

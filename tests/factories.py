"""Explicit factories. The cast: an owner, a curator, an annotator, a viewer and an outsider."""

from __future__ import annotations

import hashlib
from typing import Any

import factory
from django.contrib.auth import get_user_model

from curation.projects.models import Membership, ModelEndpoint, Project, Role
from curation.samples.models import Sample, SampleKind
from curation.seeds.models import Seed, SeedKind, SeedSet
from generation.runs.models import Run

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ANNOTATOR


class SeedSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SeedSet

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Seeds {n}")


class SeedFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seed

    seed_set = factory.SubFactory(SeedSetFactory)
    position = factory.Sequence(lambda n: n + 1)
    kind = SeedKind.INSTRUCTION
    payload = factory.LazyAttribute(
        lambda o: {"instruction": o.text, "instances": [{"input": "", "output": "ok"}]}
    )
    text = factory.Sequence(lambda n: f"Write a haiku about topic {n}.")


class EndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelEndpoint

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"endpoint-{n}")
    base_url = "http://127.0.0.1:9/v1"
    chat_model = "fake-model"


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Run

    project = factory.SubFactory(ProjectFactory)
    recipe_id = "self_instruct"
    recipe_version = "1"
    target_count = 10


def sample_hash(messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(repr(messages).encode()).hexdigest()


class SampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sample

    project = factory.SubFactory(ProjectFactory)
    kind = SampleKind.SFT
    messages = factory.Sequence(
        lambda n: [
            {"role": "user", "content": f"Question {n}?"},
            {"role": "assistant", "content": f"Answer {n}."},
        ]
    )
    content_hash = factory.LazyAttribute(lambda o: sample_hash(o.messages))


def chat(user: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


class PreferenceSampleFactory(SampleFactory):
    """An AI-judged pair, as Self-Rewarding stores it."""

    kind = SampleKind.PREFERENCE
    messages = factory.Sequence(lambda n: [{"role": "user", "content": f"Prompt {n}?"}])
    chosen = factory.Sequence(lambda n: [{"role": "assistant", "content": f"Good answer {n}."}])
    rejected = factory.Sequence(lambda n: [{"role": "assistant", "content": f"Bad answer {n}."}])
    extra = factory.LazyFunction(
        lambda: {"source": "ai_judge:self_rewarding", "chosen_score": 4.5, "rejected_score": 1.0}
    )
    content_hash = factory.LazyAttribute(lambda o: sample_hash(o.messages + o.chosen + o.rejected))

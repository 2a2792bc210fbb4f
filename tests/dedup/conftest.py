from __future__ import annotations

from typing import Any

import pytest

from curation.projects.models import Project
from curation.samples.models import Sample
from tests.dedup.corpus import Text
from tests.factories import SampleFactory


@pytest.fixture(scope="session")
def minilm() -> Any:
    """The real local model, loaded once per test session."""
    from generation.embeddings import local

    return local()


def add_samples(project: Project, texts: list[Text], **fields: Any) -> list[Sample]:
    return [SampleFactory(project=project, messages=t.messages, **fields) for t in texts]

"""schemathesis against the live test server: every operation of /api/v1, as a project owner.

Each operation gets a bounded, derandomized run of schema-valid cases, half of them with the
ids of real rows in their path (a seeded project, seed set, run, queue...), so the fuzzer
reaches past the 404s. Every answer must be no server error, a declared status code, and
a body that fits the declared schema. Background work is enqueued on the in-memory broker
and never run (no worker): the test is about the API, not the tasks behind it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EXAMPLES_PER_OPERATION = 25
_PATH_PARAM = re.compile(r"{(\w+)}")


@dataclass
class Tally:
    cases: int = 0
    operations: int = 0
    answered_2xx: int = 0
    failures: list[str] = field(default_factory=list)


def seed_world(fake_url: str) -> tuple[Any, dict[str, int]]:
    """A project the token's user owns, with one row of each kind a path can name."""
    from curation.projects.models import Role
    from curation.review import services as review
    from curation.review.models import Assignment
    from tests.factories import (
        EndpointFactory,
        MembershipFactory,
        ProjectFactory,
        RunFactory,
        SampleFactory,
        SeedFactory,
        SeedSetFactory,
        UserFactory,
    )

    owner = UserFactory(username="fuzz-owner")
    project = ProjectFactory(name="Fuzz")
    MembershipFactory(project=project, user=owner, role=Role.OWNER)
    member = MembershipFactory(project=project, role=Role.ANNOTATOR)
    endpoint = EndpointFactory(project=project, base_url=fake_url, is_default=True)
    seed_set = SeedSetFactory(project=project)
    for _ in range(3):
        SeedFactory(seed_set=seed_set)
    run = RunFactory(project=project, seed_set=seed_set)
    samples = [SampleFactory(project=project, run=run) for _ in range(4)]
    queue = review.create_queue(owner, project, name="Fuzz queue")
    assignment = review.claim_next(owner, queue)
    assert isinstance(assignment, Assignment)
    ids = {
        "project_id": project.pk,
        "member_id": member.pk,
        "endpoint_id": endpoint.pk,
        "seed_set_id": seed_set.pk,
        "run_id": run.pk,
        "sample_id": samples[0].pk,
        "queue_id": queue.pk,
        "assignment_id": assignment.pk,
    }
    return owner, ids


def fuzz_operation(
    operation: Any, ids: dict[str, int], base_url: str, token: str, fake_url: str
) -> Tally:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import strategies as st
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import (
        response_schema_conformance,
        status_code_conformance,
    )

    tally = Tally(operations=1)
    real = {name: ids[name] for name in _PATH_PARAM.findall(operation.path) if name in ids}
    strategy = operation.as_strategy()
    if real:
        strategy = st.one_of(operation.as_strategy(path_parameters=real), strategy)
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    headers = {"Authorization": f"Bearer {token}"}

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        tally.cases += 1
        if case.path == "/api/v1/projects/{project_id}/endpoints" and isinstance(case.body, dict):
            # Endpoints the fuzzer creates point at loopback too: a test never leaves it.
            case.body["base_url"] = fake_url
        try:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            tally.answered_2xx += 200 <= response.status_code < 300
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as exc:
            tally.failures.append(f"{operation.label}: {exc}")

    check()
    return tally


def test_every_operation_survives_fuzzing_and_answers_as_its_schema_says(
    live_server: Any, fake_llm: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import schemathesis

    from curation.celery import app as celery_app
    from curation.projects.services import issue_api_token

    # Runs, exports and rescans are enqueued and left there: nothing runs them here.
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    owner, ids = seed_world(fake_llm.base_url)
    _, token = issue_api_token(owner, "fuzz")
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")

    started = time.monotonic()
    total = Tally(operations=0)
    for result in schema.get_all_operations():
        tally = fuzz_operation(result.ok(), ids, live_server.url, token, fake_llm.base_url)
        total.cases += tally.cases
        total.operations += tally.operations
        total.answered_2xx += tally.answered_2xx
        total.failures += tally.failures

    line = (
        f"schemathesis: {total.cases} cases over {total.operations} operations "
        f"({total.answered_2xx} answered 2xx), {len(total.failures)} failures "
        f"({time.monotonic() - started:.0f} s)"
    )
    with capsys.disabled():
        print(f"\n{line}")
    # The real ids take the fuzzer past the 404s: a good share of cases must succeed.
    assert total.operations >= 40 and total.answered_2xx >= total.cases // 10
    assert not total.failures, line + "\n\n" + "\n\n".join(total.failures)

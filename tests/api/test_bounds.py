"""Values beyond a column's range, or holding a NUL, are invalid input (422), not a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import RunFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("cost", [-4.2e16, 1.77e44, 0])
def test_a_budget_outside_the_column_is_invalid_input(
    cast: Any, api_client_for: Any, cost: float
) -> None:
    run = RunFactory(project=cast.project)
    response = api_client_for(cast.owner).post(
        f"/api/v1/runs/{run.pk}/budget", {"budget_cost": cost}, content_type="application/json"
    )

    assert response.status_code == 422
    assert [e["loc"][-1] for e in response.json()["detail"]] == ["budget_cost"]
    run.refresh_from_db()
    assert run.budget_cost is None


def test_a_budget_with_more_places_than_the_column_is_rounded(
    cast: Any, api_client_for: Any
) -> None:
    run = RunFactory(project=cast.project)
    response = api_client_for(cast.owner).post(
        f"/api/v1/runs/{run.pk}/budget", {"budget_cost": 2.123456}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    run.refresh_from_db()
    assert str(run.budget_cost) == "2.1235"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a\u0000b"},  # a field of the schema
        {"name": "ok", "filters": {"tags": ["x\u0000"]}},  # deep inside free-form JSON
    ],
)
def test_a_nul_character_is_invalid_input(cast: Any, api_client_for: Any, body: Any) -> None:
    response = api_client_for(cast.owner).post(
        f"/api/v1/projects/{cast.project.pk}/queues", body, content_type="application/json"
    )

    assert response.status_code == 422
    assert not cast.project.queues.exists()


def test_the_schema_states_the_bounds_and_declares_the_errors(client: Any) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    budget = schema["components"]["schemas"]["BudgetIn"]["properties"]["budget_cost"]
    responses = schema["paths"]["/api/v1/runs/{run_id}/pause"]["post"]["responses"]

    assert {"minimum": 0.0001, "exclusiveMaximum": 10**8}.items() <= budget["anyOf"][0].items()
    assert {"200", "401", "403", "404", "409", "422"} <= set(responses)
    # Two apps' MemberOut once shared one component; the projects' one is its own again.
    assert "username" in schema["components"]["schemas"]["MemberOut"]["properties"]

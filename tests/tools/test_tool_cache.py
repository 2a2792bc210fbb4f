"""The tool cache from outside a run: the API page, the tool_cache command, and tools (with
response schema, implementation and recordings) read from tool_spec seeds."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from curation.projects.models import AuditEvent
from curation.seeds.services import import_seed_set
from generation.recipes.base import SeedRow
from generation.runs.models import ToolResponse
from generation.tools import cache
from generation.tools.definitions import ToolDef, tools_from_seeds
from tests.cast import Cast

pytestmark = pytest.mark.django_db


def tool_cache(*args: str, project: Any) -> str:
    out = io.StringIO()
    call_command("tool_cache", *args, "--project", str(project.slug), stdout=out)
    return out.getvalue()


def cached(project: Any, tool: str, arguments: dict[str, Any], response: str, source: str) -> None:
    cache.store(project.pk, tool, cache.canonical(arguments), response, source)


def test_the_tool_cache_api_pages_newest_first_and_filters_by_tool_and_source(
    cast: Cast, api_client_for: Any, django_assert_max_num_queries: Any
) -> None:
    for i in range(3):
        cached(cast.project, "get_weather", {"city": f"c{i}"}, f'{{"t":{i}}}', "simulated")
    cached(cast.project, "add", {"a": 1}, '{"sum":1}', "implementation")
    cached(cast.other_project, "add", {"a": 1}, '{"sum":"other"}', "recorded")
    client = api_client_for(cast.viewer)
    url = f"/api/v1/projects/{cast.project.pk}/tool-cache"
    with django_assert_max_num_queries(8):
        page = client.get(url, {"page_size": 2}).json()
    assert (page["count"], page["pages"]) == (4, 2)
    assert [r["tool"] for r in page["results"]] == ["add", "get_weather"]
    weather = client.get(url, {"tool": "get_weather"}).json()
    assert [r["response"] for r in weather["results"]] == ['{"t":2}', '{"t":1}', '{"t":0}']
    assert weather["results"][0]["arguments"] == '{"city":"c2"}'
    assert weather["results"][0]["args_key"] == cache.key_of('{"city":"c2"}')
    implemented = client.get(url, {"source": "implementation"}).json()
    assert [r["response"] for r in implemented["results"]] == ['{"sum":1}']
    assert client.get(url, {"source": "cache"}).status_code == 422  # not one of the enum


def test_an_outsider_cannot_read_a_projects_tool_cache(cast: Cast, api_client_for: Any) -> None:
    response = api_client_for(cast.outsider).get(f"/api/v1/projects/{cast.project.pk}/tool-cache")
    assert response.status_code == 404


def test_the_command_loads_recorded_responses_and_lists_them_back_as_the_same_jsonl(
    cast: Cast, tmp_path: Path
) -> None:
    given = tmp_path / "recorded.jsonl"
    oslo = {"units": "C", "city": "Oslo"}
    lines = [
        {"tool": "get_weather", "arguments": oslo, "response": "Sunny, 3 °C"},
        {"tool": "get_weather", "arguments": {"city": "Lima"}, "response": {"t": 20, "é": True}},
    ]
    given.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    out = tool_cache("load", "--file", str(given), project=cast.project)
    assert "2 responses added, 0 already cached" in out
    assert AuditEvent.objects.filter(verb="tool_cache.load", project=cast.project).count() == 1
    responses = dict(ToolResponse.objects.values_list("arguments", "response"))
    assert responses == {
        '{"city":"Oslo","units":"C"}': "Sunny, 3 °C",
        '{"city":"Lima"}': '{"t":20,"é":true}',
    }
    again = tool_cache("load", "--file", str(given), project=cast.project)
    assert "0 responses added, 2 already cached" in again

    listed = tool_cache("list", "--limit", "0", project=cast.project)
    rows = [json.loads(line) for line in listed.splitlines()]
    assert [(r["arguments"], r["response"], r["source"]) for r in rows] == [
        ({"city": "Lima"}, '{"t":20,"é":true}', "recorded"),
        ({"city": "Oslo", "units": "C"}, "Sunny, 3 °C", "recorded"),
    ]
    # The listing loads into another project with the same bytes.
    relisted = tmp_path / "listed.jsonl"
    relisted.write_text(listed, encoding="utf-8")
    tool_cache("load", "--file", str(relisted), project=cast.other_project)
    other = ToolResponse.objects.filter(project=cast.other_project)
    assert dict(other.values_list("arguments", "response")) == responses


def test_the_command_names_a_bad_line_and_loads_nothing(cast: Cast, tmp_path: Path) -> None:
    given = tmp_path / "bad.jsonl"
    good, bad = {"tool": "a", "arguments": {}, "response": 1}, {"tool": "a", "arguments": []}
    given.write_text(f"{json.dumps(good)}\n{json.dumps(bad)}\n")
    with pytest.raises(CommandError, match="line 2: needs 'arguments'"):
        tool_cache("load", "--file", str(given), project=cast.project)
    assert not ToolResponse.objects.exists()


def test_the_command_clears_one_tool(cast: Cast) -> None:
    cached(cast.project, "a", {"x": 1}, "1", "simulated")
    cached(cast.project, "b", {"x": 1}, "1", "simulated")
    said = tool_cache("clear", "--tool", "a", "--user", cast.owner.username, project=cast.project)
    assert "1 responses of a deleted" in said
    assert list(ToolResponse.objects.values_list("tool", flat=True)) == ["b"]
    event = AuditEvent.objects.filter(verb="tool_cache.clear").get()
    assert event.after == {"tool": "a", "deleted": 1} and event.actor == cast.owner
    with pytest.raises(CommandError, match="clear needs --tool"):
        tool_cache("clear", project=cast.project)


def test_tool_spec_seeds_carry_a_response_schema_an_implementation_and_recordings(
    cast: Cast,
) -> None:
    spec = {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Adds.",
            "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}},
            "response_schema": {"type": "object", "properties": {"sum": {"type": "integer"}}},
        },
        "implementation": {"code": "def plus(a):\n    return {'sum': a}\n", "entry": "plus",
                           "limits": {"wall_s": 2}},
        "responses": [{"arguments": {"a": 1}, "response": {"sum": 1}}],
    }  # fmt: skip
    data = json.dumps(spec).encode()
    seed_set = import_seed_set(cast.owner, cast.project, name="Tools", data=data)
    seed = seed_set.seeds.get()
    (tool,) = tools_from_seeds([SeedRow(seed.pk, seed.kind, seed.payload, seed.text)]).values()
    assert tool.response_schema == {"type": "object", "properties": {"sum": {"type": "integer"}}}
    assert tool.implementation is not None and tool.implementation.entry == "plus"
    assert tool.implementation.limits is not None and tool.implementation.limits.wall_s == 2
    assert tool.recorded == (({"a": 1}, {"sum": 1}),)
    assert tool.tool()["function"]["name"] == "add"


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"response_schema": {"type": "nope"}}, "not a valid JSON Schema"),
        ({"implementation": {"code": "x", "entry": "not a name"}}, "not a Python name"),
        ({"implementation": {"code": "x", "limits": {"gpus": 1}}}, "unknown sandbox limits"),
        ({"responses": [{"arguments": {}}]}, "has no 'response'"),
    ],
)
def test_a_tools_bad_extra_fields_are_named(meta: dict[str, Any], message: str) -> None:
    payload = {"type": "function", "function": {"name": "t", "parameters": {}}, "meta": meta}
    with pytest.raises(ValueError, match=message):
        ToolDef.from_payload(payload)


def test_the_tool_cache_page_lists_escaped_rows_by_tool_and_the_runs_page_links_it(
    cast: Cast, client: Any, django_assert_max_num_queries: Any
) -> None:
    cached(cast.project, "search", {"q": "x"}, '{"html":"<script>alert(1)</script>"}', "simulated")
    cached(cast.project, "add", {"a": 1}, '{"sum":1}', "implementation")
    client.force_login(cast.viewer)
    url = f"/projects/{cast.project.pk}/tool-cache/"
    with django_assert_max_num_queries(10):
        page = client.get(url).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "Implementation" in page and "Simulated" in page
    only_add = client.get(url, {"tool": "add"}).content.decode()
    assert "{&quot;sum&quot;:1}" in only_add and "alert(1)" not in only_add
    assert url in client.get(f"/projects/{cast.project.pk}/runs/").content.decode()
    client.force_login(cast.outsider)
    assert client.get(url).status_code == 404

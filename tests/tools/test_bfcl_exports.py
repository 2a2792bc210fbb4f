"""BFCL JSONL: importing BFCL's question and possible_answer files as samples (or seeds),
exporting samples as BFCL items, and export → import → export giving the same items."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from curation.exports.forms import ExportForm, ImportForm
from curation.exports.services import create_export, import_dataset
from curation.projects.services import ServiceError
from curation.samples.models import Sample
from curation.seeds.models import SeedSet
from generation.tools import bfcl
from tests.cast import Cast
from tests.exports.conftest import TOOL_MESSAGES, TOOLS
from tests.exports.helpers import export_now, jsonl_rows, path_of
from tests.factories import MembershipFactory, ProjectFactory, SampleFactory, chat
from tests.tools.bfcl_fixture import ANSWERS, QUESTIONS, items

pytestmark = pytest.mark.django_db
PENDING = {"statuses": ["pending"]}


def import_fixture(cast: Cast, project: Any = None, **kwargs: Any) -> dict[str, Any]:
    return import_dataset(
        cast.curator, project or cast.project, data=QUESTIONS.read_bytes(),
        answers=ANSWERS.read_bytes(), filename=QUESTIONS.name, **kwargs,
    )  # fmt: skip


def bfcl_types(node: Any) -> Any:
    """The fixture as the export spells it: BFCL's tuple is JSON Schema's array."""
    if isinstance(node, dict):
        return {
            k: ("array" if k == "type" and v == "tuple" else bfcl_types(v)) for k, v in node.items()
        }
    return [bfcl_types(v) for v in node] if isinstance(node, list) else node


def test_bfcl_files_import_as_tool_trajectories_that_keep_the_possible_answers(cast: Cast) -> None:
    result = import_fixture(cast)
    assert result == result | {"format": "bfcl", "imported": 13, "duplicates": 0}
    samples = {s.extra["bfcl"]["id"]: s for s in Sample.objects.filter(project=cast.project)}
    parallel = samples["parallel_0"]
    assert (parallel.kind, parallel.status, parallel.source) == (
        "tool_trajectory",
        "pending",
        "import",
    )
    assert (
        parallel.tools[0]["function"]["parameters"]["properties"]["weight_kg"]["type"] == "number"
    )
    calls = parallel.messages[-1]["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"weight_kg": 2.0, "destination": "Norway"},
        {"weight_kg": 5.5, "destination": "Chile"},
    ]
    assert parallel.extra["bfcl"]["ground_truth"] == items()["parallel_0"]["ground_truth"]
    assert parallel.extra["bfcl"]["category"] == "parallel"
    irrelevant = samples["irrelevance_1"]
    assert irrelevant.messages == items()["irrelevance_1"]["question"][0]
    assert irrelevant.extra["bfcl"]["ground_truth"] == []
    # Every imported item passes the checker as stored.
    report = bfcl.evaluate(Sample.objects.values_list("id", "messages", "tools", "extra"))
    assert (report["checked"], report["accuracy"]) == (13, 1.0), report["failures"]


def test_imported_items_export_as_the_fixture_and_round_trip_byte_for_byte(cast: Cast) -> None:
    import_fixture(cast)
    first = export_now(cast.curator, cast.project, format="bfcl", filters=PENDING)
    rows = jsonl_rows(first)
    assert rows == [bfcl_types(item) for item in items().values()]
    data = path_of(first, "train.jsonl").read_bytes()
    elsewhere = ProjectFactory(name="Elsewhere")
    result = import_dataset(cast.curator, elsewhere, data=data, fmt="auto", filename="train.jsonl")
    assert result["imported"] == 13 and result["format"] == "bfcl"
    again = export_now(cast.curator, elsewhere, format="bfcl", filters=PENDING)
    assert path_of(again, "train.jsonl").read_bytes() == data
    assert "BFCL (Berkeley Function Calling Leaderboard)" in path_of(again, "README.md").read_text()


def test_a_generated_trajectory_exports_its_calls_as_the_only_answer(cast: Cast) -> None:
    sample = SampleFactory(
        project=cast.project, status="accepted", kind="tool_trajectory",
        messages=TOOL_MESSAGES, tools=TOOLS,
    )  # fmt: skip
    SampleFactory(project=cast.project, status="accepted", messages=chat("Hi", "Hello"))
    export = export_now(cast.curator, cast.project, format="bfcl")
    assert jsonl_rows(export) == [
        {
            "id": f"simple_{sample.pk}",
            "question": [[{"role": "user", "content": "Weather in Oslo?"}]],
            "function": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": {"type": "dict", "properties": {"city": {"type": "string"}}},
                }
            ],
            "ground_truth": [{"get_weather": {"city": ["Oslo"]}}],
        }
    ]
    assert export.manifest["counts"]["skipped"] == {"no_tools": 1}


def test_an_answer_without_a_call_exports_as_an_irrelevance_item(cast: Cast) -> None:
    sample = SampleFactory(
        project=cast.project, status="accepted", kind="tool_trajectory",
        messages=chat("Tell me a joke.", "Why did the chicken..."), tools=TOOLS,
    )  # fmt: skip
    (row,) = jsonl_rows(export_now(cast.curator, cast.project, format="bfcl"))
    assert (row["id"], row["ground_truth"]) == (f"irrelevance_{sample.pk}", [])


def test_an_edit_keeps_the_possible_answers_while_its_calls_still_pass_them(cast: Cast) -> None:
    import_fixture(cast)
    samples = {s.extra["bfcl"]["id"]: s for s in Sample.objects.all()}

    def edit(item_id: str, arguments: dict[str, Any]) -> None:
        s = samples[item_id]
        s.messages[-1]["tool_calls"][0]["function"]["arguments"] = json.dumps(arguments)
        s.save(update_fields=["messages"])

    edit("simple_1", {"restaurant": "Luigis", "party_size": 4, "time": "7:30 PM", "outdoor": False})
    edit("multiple_1", {"recipe_id": "r-204", "stars": 4})
    rows = {
        r["question"][0][0]["content"]: r
        for r in jsonl_rows(export_now(cast.curator, cast.project, format="bfcl", filters=PENDING))
    }
    kept = rows["Book a table for 4 at Luigi's at 7:30 pm."]
    assert kept["id"] == "simple_1" and kept["ground_truth"] == items()["simple_1"]["ground_truth"]
    changed = rows["Give the recipe r-204 five stars."]
    assert changed["id"] == f"multiple_{samples['multiple_1'].pk}"
    assert changed["ground_truth"] == [{"rate_recipe": {"recipe_id": ["r-204"], "stars": [4]}}]


def test_a_bfcl_import_can_become_a_seed_set_of_conversations_with_tools(cast: Cast) -> None:
    result = import_fixture(cast, target="seed_set", name="BFCL fixture")
    seed_set = SeedSet.objects.get(pk=result["seed_set_id"])
    assert (seed_set.seed_count, seed_set.kinds) == (13, ["conversation"])
    seed = seed_set.seeds.get(position=8)  # parallel_0
    assert seed.payload["tools"][0]["function"]["name"] == "estimate_shipping_cost"
    assert seed.payload["meta"]["bfcl"]["ground_truth"] == items()["parallel_0"]["ground_truth"]
    assert len(seed.payload["messages"][-1]["tool_calls"]) == 2
    assert not Sample.objects.exists()


def question(ident: str, **more: Any) -> dict[str, Any]:
    fn = {
        "name": "f",
        "parameters": {"type": "dict", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
    }
    return {"id": ident, "question": [[{"role": "user", "content": "x?"}]], "function": [fn]} | more


def lines(*rows: Any) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            lines({"id": "simple_9", "ground_truth": []}),
            "line 1: possible answer 'simple_9' has no question",
        ),
        (
            lines(question("simple_1"), question("simple_1")),
            "line 2: id 'simple_1' is already used on line 1",
        ),
        (
            lines(question("simple_1", ground_truth=[{"f": {"x": 1}}])),
            "'x' must list its acceptable values",
        ),
        (
            lines(question("simple_1", ground_truth=[{"g": {"x": [1]}}])),
            "expects a call of 'g', which is not",
        ),
        (
            lines(question("simple_1", ground_truth=[{"f": {}}])),
            "fails its own check (call 1 (f): required parameter 'x' is missing",
        ),
        (lines(question("simple_java_1")), "only Python single-turn categories"),
        (
            lines(
                question(
                    "simple_1",
                    question=[
                        [{"role": "user", "content": "a"}],
                        [{"role": "user", "content": "b"}],
                    ],
                )
            ),
            "multi-turn items are not read",
        ),
        (
            lines(
                question(
                    "simple_1",
                    function=[
                        {
                            "name": "f",
                            "parameters": {"type": "dict", "properties": {"x": {"type": "long"}}},
                        }
                    ],
                )
            ),
            "unknown type 'long'",
        ),
        (lines(question("simple_1"), {"id": "simple_1"}), "line 2: expected a BFCL question"),
    ],
)
def test_a_bad_bfcl_file_imports_nothing_and_says_where(
    cast: Cast, data: bytes, message: str
) -> None:
    with pytest.raises(ServiceError, match=re.escape(message)):
        import_dataset(cast.curator, cast.project, data=data)
    assert not Sample.objects.exists()


def test_a_possible_answer_file_is_named_in_its_errors_and_needs_a_bfcl_import(cast: Cast) -> None:
    with pytest.raises(ServiceError, match="possible-answer file, line 1: possible answer 'x_1'"):
        import_dataset(
            cast.curator,
            cast.project,
            data=lines(question("simple_1")),
            answers=lines({"id": "x_1", "ground_truth": []}),
        )
    with pytest.raises(ServiceError, match="goes with a BFCL import only"):
        import_dataset(
            cast.curator,
            cast.project,
            data=b'{"text": "a", "label": "b"}\n',
            answers=ANSWERS.read_bytes(),
        )


def test_bfcl_is_jsonl_only(cast: Cast) -> None:
    import_fixture(cast)
    with pytest.raises(ServiceError, match="BFCL files are JSONL"):
        create_export(cast.curator, cast.project, format="bfcl", parquet=True, filters=PENDING)


def test_the_commands_api_and_forms_reach_the_bfcl_format(
    cast: Cast, api_client_for: Any, tmp_path: Path
) -> None:
    out = io.StringIO()
    call_command(
        "import_dataset", str(QUESTIONS), "--answers", str(ANSWERS), "--format", "bfcl",
        "--project", str(cast.project.pk), stdout=out,
    )  # fmt: skip
    assert json.loads(out.getvalue())["imported"] == 13
    out = io.StringIO()
    call_command(
        "export", "--project", str(cast.project.pk), "--format", "bfcl", "--filters",
        json.dumps(PENDING), "--out", str(tmp_path), stdout=out,
    )  # fmt: skip
    assert json.loads(out.getvalue())["rows"] == 13
    assert len((tmp_path / "train.jsonl").read_text().splitlines()) == 13
    response = api_client_for(cast.curator).post(
        f"/api/v1/projects/{cast.other_project.pk}/imports",
        {"file": io.BytesIO(QUESTIONS.read_bytes()), "answers": io.BytesIO(ANSWERS.read_bytes())},
    )
    assert response.status_code == 404  # the curator is no member of the other project
    elsewhere = ProjectFactory(name="Gamma")
    MembershipFactory(project=elsewhere, user=cast.curator, role="curator")
    response = api_client_for(cast.curator).post(
        f"/api/v1/projects/{elsewhere.pk}/imports",
        {"file": io.BytesIO(QUESTIONS.read_bytes()), "answers": io.BytesIO(ANSWERS.read_bytes())},
    )
    assert response.status_code == 201, response.content
    assert response.json() == response.json() | {"format": "bfcl", "imported": 13}
    gold = [s.extra["bfcl"].get("ground_truth") for s in Sample.objects.filter(project=elsewhere)]
    assert sum(bool(g) for g in gold) == 11  # the possible answers came with the questions
    response = api_client_for(cast.curator).post(
        f"/api/v1/projects/{elsewhere.pk}/exports",
        {"format": "bfcl", "filters": PENDING},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["format"] == "bfcl"
    assert ("bfcl", "bfcl") in ImportForm().fields["format"].choices
    assert "bfcl" in dict(ExportForm().fields["format"].choices)


def test_samples_that_are_not_one_bfcl_item_are_counted_by_reason(cast: Cast) -> None:
    call = TOOL_MESSAGES[1]
    two_steps = [*TOOL_MESSAGES[:3], call, TOOL_MESSAGES[2], TOOL_MESSAGES[3]]
    broken = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            call["tool_calls"][0] | {"function": {"name": "get_weather", "arguments": "{oops"}}
        ],
    }
    unlisted = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            call["tool_calls"][0] | {"function": {"name": "get_time", "arguments": "{}"}}
        ],
    }
    question = TOOL_MESSAGES[:1]
    for messages, tools in [
        (two_steps, TOOLS), ([*question, broken], TOOLS), ([*question, unlisted], TOOLS),
        (question, TOOLS), ([{"role": "user", "content": "Weather?"}, *TOOL_MESSAGES[1:]], ["x"]),
        (TOOL_MESSAGES, TOOLS),
    ]:  # fmt: skip
        SampleFactory(
            project=cast.project,
            status="accepted",
            kind="tool_trajectory",
            messages=messages,
            tools=tools,
        )
    export = export_now(cast.curator, cast.project, format="bfcl")
    assert export.rows_written == 1
    assert export.manifest["counts"]["skipped"] == {
        "calls_an_unlisted_tool": 1,
        "no_assistant_turn": 1,
        "several_call_steps": 1,
        "tool_arguments_not_json": 1,
        "tools_malformed": 1,
    }


def test_the_exports_page_imports_a_question_file_with_its_possible_answers(cast: Cast) -> None:
    client = Client()
    client.force_login(cast.curator)
    response = client.post(
        f"/projects/{cast.project.pk}/exports/import/",
        {
            "file": SimpleUploadedFile(QUESTIONS.name, QUESTIONS.read_bytes()),
            "answers": SimpleUploadedFile(ANSWERS.name, ANSWERS.read_bytes()),
            "format": "bfcl",
            "target": "samples",
        },
        follow=True,
    )
    assert "Imported 13 samples as bfcl" in response.content.decode()
    samples = Sample.objects.filter(project=cast.project)
    assert sum(bool(s.messages[-1].get("tool_calls")) for s in samples) == 11

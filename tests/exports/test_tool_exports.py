"""Tool trajectories in ShareGPT (LLaMA-Factory's function turns) and in OpenAI JSONL with
`tools`: the rows, what `datasets` and TRL read, and export → import → export."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from curation.exports import sharegpt
from curation.exports.formats import Src, sharegpt_row
from curation.exports.services import import_dataset
from curation.samples.models import Sample
from tests.cast import Cast
from tests.exports.conftest import TOOLS
from tests.exports.helpers import export_now, jsonl_rows, path_of
from tests.exports.test_formats import check_trl, load
from tests.factories import ProjectFactory, SampleFactory

pytestmark = pytest.mark.django_db
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def call(cid: str, name: str, args: str) -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


PARALLEL = [
    {"role": "system", "content": "Use the tools."},
    {"role": "user", "content": "Weather in Oslo and Bergen?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            call("a", "get_weather", '{"city": "Oslo"}'),
            call("b", "get_weather", '{"city": "Bergen"}'),
        ],
    },
    {"role": "tool", "tool_call_id": "a", "content": "Sunny"},
    {"role": "tool", "tool_call_id": "b", "content": "Rain"},
    {"role": "assistant", "content": "Oslo is sunny; Bergen has rain."},
]


def test_a_tool_call_becomes_a_function_call_turn_and_its_result_an_observation(
    cast: Cast, dataset: dict[str, Any]
) -> None:
    export = export_now(cast.curator, cast.project, format="sharegpt")
    row = next(r for r in jsonl_rows(export) if r.get("tools"))
    assert [t["from"] for t in row["conversations"]] == [
        "human", "function_call", "observation", "gpt",
    ]  # fmt: skip
    assert json.loads(row["conversations"][1]["value"]) == {
        "name": "get_weather",
        "arguments": {"city": "Oslo"},
    }
    assert row["conversations"][2]["value"] == "Sunny, 21°C"
    assert isinstance(row["tools"], str)  # LLaMA-Factory reads tools as JSON text
    assert json.loads(row["tools"]) == [TOOLS[0]["function"]]


def test_parallel_calls_share_one_turn_so_the_roles_still_alternate() -> None:
    row = sharegpt_row(Src(id=1, kind="tool_trajectory", messages=PARALLEL, tools=TOOLS))
    assert isinstance(row, dict)
    turns = row["conversations"]
    assert [t["from"] for t in turns] == [
        "system", "human", "function_call", "observation", "gpt",
    ]  # fmt: skip
    assert [c["arguments"] for c in json.loads(turns[2]["value"])] == [
        {"city": "Oslo"},
        {"city": "Bergen"},
    ]
    assert json.loads(turns[3]["value"]) == ["Sunny", "Rain"]
    back = sharegpt.from_turns(turns, "row 1")
    assert [m.get("content") for m in back if m["role"] == "tool"] == ["Sunny", "Rain"]
    ids = [c["id"] for c in back[2]["tool_calls"]]
    assert [m["tool_call_id"] for m in back if m["role"] == "tool"] == ids


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        (
            [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "content": "Let me look.",
                    "tool_calls": [call("a", "f", "{}")],
                },
                {"role": "tool", "tool_call_id": "a", "content": "r"},
                {"role": "assistant", "content": "done"},
            ],
            "text_beside_tool_calls_needs_openai_format",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": None, "tool_calls": [call("a", "f", "{oops")]},
                {"role": "tool", "tool_call_id": "a", "content": "r"},
                {"role": "assistant", "content": "done"},
            ],
            "tool_arguments_not_json",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": None, "tool_calls": [call("a", "f", "{}")]},
                {"role": "assistant", "content": "done"},
            ],
            "tool_results_do_not_match_calls",
        ),
    ],
)
def test_a_trajectory_the_convention_cannot_hold_is_skipped_with_a_reason(
    messages: list[dict[str, Any]], reason: str
) -> None:
    assert sharegpt_row(Src(id=1, kind="tool_trajectory", messages=messages)) == reason


@pytest.mark.parametrize("parquet", [False, True], ids=["jsonl", "parquet"])
def test_sharegpt_with_function_turns_round_trips_to_the_same_bytes(
    cast: Cast, parquet: bool
) -> None:
    SampleFactory(project=cast.project, status="accepted", messages=PARALLEL, tools=TOOLS)
    first = export_now(cast.curator, cast.project, format="sharegpt", parquet=parquet)
    name = f"train.{'parquet' if parquet else 'jsonl'}"
    data = path_of(first, name).read_bytes()
    elsewhere = ProjectFactory(name="Elsewhere")
    result = import_dataset(cast.curator, elsewhere, data=data, fmt="sharegpt", filename=name)
    assert result["imported"] == 1
    sample = Sample.objects.get(project=elsewhere)
    assert sample.kind == "tool_trajectory" and sample.tools == TOOLS
    assert [c["function"]["arguments"] for c in sample.messages[2]["tool_calls"]] == [
        '{"city": "Oslo"}',
        '{"city": "Bergen"}',
    ]
    again = export_now(
        cast.curator, elsewhere, format="sharegpt", parquet=parquet,
        filters={"statuses": ["pending"]},
    )  # fmt: skip
    assert path_of(again, name).read_bytes() == data


def test_an_observation_that_does_not_fit_its_parallel_calls_is_refused_on_import(
    cast: Cast,
) -> None:
    row = sharegpt_row(Src(id=1, kind="tool_trajectory", messages=PARALLEL, tools=TOOLS))
    assert isinstance(row, dict)
    row["conversations"][3]["value"] = "only one"
    data = json.dumps(row).encode() + b"\n"
    with pytest.raises(Exception, match=r"parallel calls must be a JSON list of 2 texts"):
        import_dataset(cast.curator, cast.project, data=data, fmt="sharegpt", filename="x.jsonl")


@pytest.mark.parametrize("parquet", [False, True], ids=["jsonl", "parquet"])
def test_openai_tool_calling_jsonl_loads_in_datasets_and_passes_trls_checks(
    cast: Cast, dataset: dict[str, Any], tmp_path: Path, parquet: bool
) -> None:
    export = export_now(
        cast.curator, cast.project, format="openai", parquet=parquet,
        filters={"kinds": ["tool_trajectory"]},
    )  # fmt: skip
    ds = load(export, tmp_path)
    assert len(ds) == export.rows_written == 1
    check_trl("openai", ds)
    first = ds[0]
    assert first["messages"][1]["tool_calls"][0]["function"]["name"] == "get_weather"
    tools = first["tools"]
    tools = json.loads(tools) if isinstance(tools, str) else tools
    assert tools[0]["function"]["name"] == "get_weather"

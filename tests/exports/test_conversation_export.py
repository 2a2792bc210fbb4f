"""Multi-turn SFT exports: an assistant-only loss mask per message, SPAG's row weights as a
`weight` column, both loading with datasets and passing TRL's checks, and round trips."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, TestCase

from curation.exports.models import Export
from curation.exports.services import ServiceError, create_export, import_dataset
from curation.review import services as review
from tests.cast import Cast
from tests.exports.helpers import export_now, jsonl_rows, path_of
from tests.exports.test_formats import check_trl, load
from tests.factories import ProjectFactory, SampleFactory

pytestmark = pytest.mark.django_db

TALK = [
    {"role": "system", "content": "Two agents talk."},
    {"role": "user", "content": "Guess my word."},
    {"role": "assistant", "content": "Is it a fruit?"},
    {"role": "user", "content": "No."},
    {"role": "assistant", "content": "Is it a tool?"},
]


def talk(project: Any, n: int, **fields: Any) -> Any:
    messages = [{**m, "content": f"{m['content']} ({n})"} for m in TALK]
    fields.setdefault("status", "accepted")
    return SampleFactory(project=project, kind="conversation", messages=messages, **fields)


@pytest.fixture
def talks(cast: Cast) -> list[Any]:
    return [talk(cast.project, n) for n in range(3)]


@pytest.fixture
def weighted(cast: Cast) -> list[Any]:
    """SPAG-like rows: two with their own weight, one without."""
    return [
        talk(cast.project, 0, extra={"weight": 0.25}),
        talk(cast.project, 1, extra={"weight": 2}),
        talk(cast.project, 2),
    ]


def by_first_user(rows: list[dict[str, Any]], key: str = "messages") -> dict[str, Any]:
    text = "content" if key == "messages" else "value"
    return {r[key][1][text]: r for r in rows}


def test_by_default_rows_carry_no_mask_and_no_weight(cast: Cast, talks: list[Any]) -> None:
    export = export_now(cast.curator, cast.project, format="openai")
    rows = jsonl_rows(export)
    assert len(rows) == 3
    assert all(set(r) == {"messages"} for r in rows)
    assert all("weight" not in m for r in rows for m in r["messages"])
    assert export.manifest["weights"] == {"loss_mask": "none", "column": False, "samples": 0}
    assert "## Training signal" not in path_of(export, "README.md").read_text()


@pytest.mark.parametrize("fmt", ["openai", "sharegpt"])
def test_the_assistant_only_mask_gives_each_message_a_weight_of_one_or_zero(
    cast: Cast, talks: list[Any], fmt: str
) -> None:
    export = export_now(cast.curator, cast.project, format=fmt, options={"loss_mask": "assistant"})
    key = "messages" if fmt == "openai" else "conversations"
    for row in jsonl_rows(export):
        assert [m["weight"] for m in row[key]] == [0, 0, 1, 0, 1]
    assert export.manifest["options"]["loss_mask"] == "assistant"
    card = path_of(export, "README.md").read_text()
    assert "## Training signal" in card and '`"weight": 1` on assistant' in card


def test_the_mask_keeps_an_assistant_turn_that_its_recipe_marked_as_context(cast: Cast) -> None:
    # A GPT4Tools context sample: the chain's earlier assistant steps carry weight 0.
    messages = [dict(m) for m in TALK]
    messages[2]["weight"] = 0
    SampleFactory(project=cast.project, kind="conversation", messages=messages, status="accepted")

    export = export_now(
        cast.curator, cast.project, format="openai", options={"loss_mask": "assistant"}
    )

    (row,) = jsonl_rows(export)
    assert [m["weight"] for m in row["messages"]] == [0, 0, 0, 0, 1]


@pytest.mark.parametrize("parquet", [False, True], ids=["jsonl", "parquet"])
def test_masked_and_weighted_rows_load_with_datasets_and_pass_trls_checks(
    cast: Cast, weighted: list[Any], tmp_path: Path, parquet: bool
) -> None:
    options = {"loss_mask": "assistant"}
    export = export_now(
        cast.curator, cast.project, format="openai", parquet=parquet, options=options
    )
    ds = load(export, tmp_path)
    assert set(ds.column_names) == {"messages", "weight"}
    check_trl("openai", ds)
    assert sorted(ds["weight"]) == [0.25, 1.0, 2.0]
    assert [m["weight"] for m in ds[0]["messages"]] == [0, 0, 1, 0, 1]
    share = export_now(
        cast.curator, cast.project, format="sharegpt", parquet=parquet, options=options
    )
    turns = load(share, tmp_path / "share")
    assert set(turns.column_names) == {"conversations", "weight"}
    assert [t["weight"] for t in turns[0]["conversations"]] == [0, 0, 1, 0, 1]


def test_samples_with_a_weight_give_every_sft_row_a_weight_column(
    cast: Cast, weighted: list[Any]
) -> None:
    export = export_now(cast.curator, cast.project, format="openai")
    rows = by_first_user(jsonl_rows(export))
    assert [rows[f"Guess my word. ({n})"]["weight"] for n in range(3)] == [0.25, 2.0, 1.0]
    assert export.manifest["weights"] == {"loss_mask": "none", "column": True, "samples": 2}
    card = path_of(export, "README.md").read_text()
    assert "Each row has a `weight` column (a float): 2 selected samples" in card
    SampleFactory(
        project=cast.project, status="accepted", extra={"weight": 0.5},
        messages=[{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hi."}],
    )  # fmt: skip
    alpaca = export_now(cast.curator, cast.project, format="alpaca")
    assert jsonl_rows(alpaca) == [
        {"instruction": "Hi?", "input": "", "output": "Hi.", "weight": 0.5}
    ]
    assert alpaca.manifest["counts"]["skipped"] == {"not_single_turn": 3}


def test_sample_weight_false_leaves_the_column_out_and_the_card_says_so(
    cast: Cast, weighted: list[Any]
) -> None:
    export = export_now(
        cast.curator, cast.project, format="openai", options={"sample_weight": False}
    )
    assert all("weight" not in r for r in jsonl_rows(export))
    assert export.manifest["weights"]["samples"] == 2
    assert (
        "2 selected samples carry a training weight, left out"
        in path_of(export, "README.md").read_text()
    )


def test_a_weight_that_is_not_a_number_leaves_its_sample_out_with_a_reason(cast: Cast) -> None:
    talk(cast.project, 0, extra={"weight": "heavy"})
    talk(cast.project, 1, extra={"weight": 1.5})
    export = export_now(cast.curator, cast.project, format="openai")
    assert [r["weight"] for r in jsonl_rows(export)] == [1.5]
    assert export.manifest["counts"]["skipped"] == {"weight_not_a_number": 1}


@pytest.mark.parametrize("fmt", ["alpaca", "dpo", "kto", "classification"])
def test_the_mask_is_refused_for_formats_that_have_no_turns_to_mask(
    cast: Cast, talks: list[Any], fmt: str
) -> None:
    with pytest.raises(ServiceError, match="loss mask applies to the openai and sharegpt"):
        create_export(cast.curator, cast.project, format=fmt, options={"loss_mask": "assistant"})


@pytest.mark.parametrize("parquet", [False, True], ids=["jsonl", "parquet"])
@pytest.mark.parametrize("fmt", ["openai", "sharegpt"])
def test_a_masked_weighted_export_imported_elsewhere_exports_again_as_the_same_bytes(
    cast: Cast, weighted: list[Any], fmt: str, parquet: bool
) -> None:
    options = {"loss_mask": "assistant"}
    first = export_now(cast.curator, cast.project, format=fmt, parquet=parquet, options=options)
    name = f"train.{'parquet' if parquet else 'jsonl'}"
    data = path_of(first, name).read_bytes()
    elsewhere = ProjectFactory(name="Elsewhere")
    result = import_dataset(cast.curator, elsewhere, data=data, fmt=fmt, filename=name)
    assert result["imported"] == 3
    stored = elsewhere.samples.order_by("id")
    assert all("weight" not in m for s in stored for m in s.messages)  # the mask is an option
    assert sorted(s.extra["weight"] for s in stored) == [0.25, 1.0, 2.0]
    again = export_now(
        cast.curator, elsewhere, format=fmt, parquet=parquet, options=options,
        filters={"statuses": ["pending"]},
    )  # fmt: skip
    assert path_of(again, name).read_bytes() == data


def test_a_reviewed_conversation_exports_as_review_left_it(cast: Cast) -> None:
    sample = talk(cast.project, 0, status="pending")
    queue = review.create_queue(cast.curator, cast.project, name="talks")
    a = review.claim_next(cast.annotator, queue)
    edited = [dict(m) for m in sample.messages]
    edited[2]["content"] = "Is it edible?"
    review.submit_review(
        cast.annotator, a, decision="accept", messages=edited, truncate_after=2,
        turns={"3": {"flag": True}},
    )  # fmt: skip
    mask = {"loss_mask": "assistant"}
    export = export_now(cast.curator, cast.project, format="openai", options=mask)
    (row,) = jsonl_rows(export)
    assert row["messages"] == [
        {"role": "system", "content": "Two agents talk. (0)", "weight": 0},
        {"role": "user", "content": "Guess my word. (0)", "weight": 0},
        {"role": "assistant", "content": "Is it edible?", "weight": 1},
    ]


def test_the_api_takes_both_options_documents_them_and_refuses_an_unknown_mask(
    cast: Cast, weighted: list[Any], api_client_for: Any
) -> None:
    client = api_client_for(cast.curator)
    url = f"/api/v1/projects/{cast.project.pk}/exports"
    options = {"loss_mask": "assistant", "sample_weight": False}
    with TestCase.captureOnCommitCallbacks(execute=True):
        made = client.post(url, {"format": "sharegpt", "options": options}, "application/json")
    assert made.status_code == 201
    assert made.json()["options"]["loss_mask"] == "assistant"
    rows = jsonl_rows(Export.objects.get())
    assert all("weight" not in r and r["conversations"][2]["weight"] == 1 for r in rows)
    bad = client.post(
        url, {"format": "openai", "options": {"loss_mask": "user"}}, "application/json"
    )
    assert bad.status_code == 422 and "loss_mask" in json.dumps(bad.json())
    wrong = client.post(
        url, {"format": "alpaca", "options": {"loss_mask": "assistant"}}, "application/json"
    )
    assert wrong.status_code == 400 and "openai and sharegpt" in wrong.json()["detail"]
    schema = Client().get("/api/v1/openapi.json").json()["components"]["schemas"]
    props = schema["ExportOptionsIn"]["properties"]
    assert "assistant turns only" in props["loss_mask"]["description"]
    assert "SPAG" in props["sample_weight"]["description"]


def test_the_page_offers_both_options_and_builds_with_them(cast: Cast, weighted: list[Any]) -> None:
    client = Client()
    client.force_login(cast.curator)
    page = client.get(f"/projects/{cast.project.pk}/exports/").content.decode()
    assert 'name="loss_mask"' in page and '<option value="assistant">' in page
    assert 'name="sample_weight"' in page
    form = {"format": "openai", "statuses": ["accepted"], "loss_mask": "assistant"}
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(f"/projects/{cast.project.pk}/exports/", form)
    export = Export.objects.get()
    assert export.options["loss_mask"] == "assistant" and not export.options["sample_weight"]
    assert all("weight" not in r and r["messages"][2]["weight"] == 1 for r in jsonl_rows(export))


def test_manage_py_export_takes_the_mask_and_no_weight_flags(
    cast: Cast, weighted: list[Any]
) -> None:
    out = io.StringIO()
    call_command(
        "export", "--project", cast.project.slug, "--format", "openai",
        "--loss-mask", "assistant", "--no-weight", stdout=out,
    )  # fmt: skip
    export = Export.objects.get(pk=json.loads(out.getvalue())["export_id"])
    assert export.options["loss_mask"] == "assistant" and export.options["sample_weight"] is False
    rows = jsonl_rows(export)
    assert all("weight" not in r and r["messages"][4]["weight"] == 1 for r in rows)

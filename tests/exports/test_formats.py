"""Every format: what trainers load (datasets + TRL's checks), and export → import → export
giving the same bytes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from curation.exports.models import Export
from curation.exports.services import import_dataset
from tests.cast import Cast
from tests.exports.helpers import export_now, jsonl_rows, path_of
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

FORMATS = ["openai", "sharegpt", "alpaca", "dpo", "dpo_conversational", "kto", "classification"]
COLUMNS = {
    "openai": {"messages", "tools"},
    "sharegpt": {"conversations", "tools"},
    "alpaca": {"instruction", "input", "output", "system"},
    "dpo": {"prompt", "chosen", "rejected", "source"},
    "dpo_conversational": {"prompt", "chosen", "rejected", "source"},
    "kto": {"prompt", "completion", "label", "source"},
    "classification": {"text", "label"},
}


def load(export: Export, tmp_path: Path) -> Any:
    from datasets import load_dataset

    kind = "parquet" if export.parquet else "json"
    name = f"train.{'parquet' if export.parquet else 'jsonl'}"
    return load_dataset(
        kind, data_files=str(path_of(export, name)), split="train", cache_dir=str(tmp_path / "hf")
    )


def check_trl(fmt: str, ds: Any) -> None:
    from trl.data_utils import is_conversational, maybe_extract_prompt

    first = ds[0]
    if fmt == "openai":
        assert is_conversational(first)  # what SFTTrainer checks before applying a template
        assert first["messages"][-1]["role"] == "assistant"
    if fmt == "dpo":
        assert not is_conversational(first)
        assert maybe_extract_prompt(first)["prompt"] == first["prompt"]
        assert isinstance(first["chosen"], str) and isinstance(first["rejected"], str)
    if fmt == "dpo_conversational":
        assert is_conversational(first)
        extracted = maybe_extract_prompt(first)
        assert extracted["prompt"] == first["prompt"]
        assert extracted["chosen"][0]["role"] == "assistant"
    if fmt == "kto":
        assert is_conversational(first)
        assert maybe_extract_prompt(first)["prompt"] == first["prompt"]
        assert set(ds["label"]) == {True, False}


@pytest.mark.parametrize("parquet", [False, True], ids=["jsonl", "parquet"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_loads_with_datasets_and_passes_trls_checks(
    cast: Cast, dataset: dict[str, Any], tmp_path: Path, fmt: str, parquet: bool
) -> None:
    export = export_now(cast.curator, cast.project, format=fmt, parquet=parquet)
    ds = load(export, tmp_path)
    assert len(ds) == export.rows_written > 0
    assert set(ds.column_names) == COLUMNS[fmt]
    check_trl(fmt, ds)


@pytest.mark.parametrize("parquet", [False, True], ids=["jsonl", "parquet"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_export_import_export_gives_the_same_bytes(
    cast: Cast, dataset: dict[str, Any], fmt: str, parquet: bool
) -> None:
    options = {"include_scores": True} if fmt.startswith("dpo") else None
    first = export_now(cast.curator, cast.project, format=fmt, parquet=parquet, options=options)
    name = f"train.{'parquet' if parquet else 'jsonl'}"
    data = path_of(first, name).read_bytes()
    elsewhere = ProjectFactory(name="Elsewhere")
    result = import_dataset(cast.curator, elsewhere, data=data, fmt=fmt, filename=name)
    assert result["imported"] == first.rows_written and result["duplicates"] == 0
    again = export_now(
        cast.curator,
        elsewhere,
        format=fmt,
        parquet=parquet,
        options=options,
        filters={"statuses": ["pending"]},
    )
    assert path_of(again, name).read_bytes() == data


def test_tool_calling_samples_carry_their_tools_in_openai_format(
    cast: Cast, dataset: dict[str, Any]
) -> None:
    export = export_now(cast.curator, cast.project, format="openai")
    rows = {r["messages"][0]["content"]: r for r in jsonl_rows(export)}
    assert rows["Weather in Oslo?"]["tools"][0]["function"]["name"] == "get_weather"
    assert "tools" not in rows["What is 2+2?"]
    # ShareGPT writes them as function_call / observation turns (test_tool_exports.py).
    share = export_now(cast.curator, cast.project, format="sharegpt")
    assert "tool_calls_need_openai_format" not in share.manifest["counts"].get("skipped", {})


def test_alpaca_keeps_the_instruction_and_input_apart(cast: Cast, dataset: dict[str, Any]) -> None:
    export = export_now(cast.curator, cast.project, format="alpaca")
    rows = jsonl_rows(export)
    assert {
        "instruction": "Translate to French.",
        "input": "Good morning",
        "output": "Bonjour",
    } in rows
    assert {
        "instruction": "Capital of France?",
        "input": "",
        "output": "Paris.",
        "system": "Be terse.",
    } in rows
    assert export.manifest["counts"]["skipped"]["not_single_turn"] == 2  # multi-turn and tools


def test_the_self_instruct_encoding_writes_each_instance_with_a_random_template(
    cast: Cast, dataset: dict[str, Any]
) -> None:
    from curation.exports import encodings
    from curation.exports.services import ServiceError, create_export

    plain = jsonl_rows(export_now(cast.curator, cast.project, format="openai"))
    encoded = jsonl_rows(
        export_now(
            cast.curator, cast.project, format="openai", options={"encoding": "self_instruct"}
        )
    )
    again = jsonl_rows(
        export_now(
            cast.curator, cast.project, format="openai", options={"encoding": "self_instruct"}
        )
    )
    assert encoded == again  # seeded: the same export is the same file
    assert len(encoded) == len(plain)
    users = [m["content"] for r in encoded for m in r["messages"] if m["role"] == "user"]
    # The Self-Instruct-shaped sample is encoded; the others are left as they were.
    french = next(u for u in users if "Translate to French." in u)
    assert french != "Translate to French.\n\nGood morning"
    templates = {t for t, _ in encodings.WITH_INPUT}
    assert any(
        french
        == t.replace("{instruction}", "Translate to French.").replace("{input}", "Good morning")
        for t in templates
    )
    with pytest.raises(ServiceError, match="applies to the openai and sharegpt formats"):
        create_export(
            cast.curator, cast.project, format="alpaca", options={"encoding": "self_instruct"}
        )


def test_the_encoding_varies_templates_and_sometimes_strips_field_names() -> None:
    from curation.exports import encodings

    prompts = {
        encodings.self_instruct(
            "Classify it.", "Sentence: I loved it.", "positive", seed=0, sample_id=i
        )[0]
        for i in range(200)
    }
    assert len({p.split("I loved it.")[0] for p in prompts}) > 5  # several layouts
    assert any("Sentence:" in p for p in prompts) and any("Sentence:" not in p for p in prompts)
    prompt, completion = encodings.self_instruct("Say hi.", "", "Hi!", seed=1, sample_id=7)
    assert "Say hi." in prompt and completion.strip() == "Hi!"

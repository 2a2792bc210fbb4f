"""Importing datasets: all or nothing, errors by line, as samples or as a seed set."""

from __future__ import annotations

import json
import re

import pytest

from curation.exports.services import import_dataset
from curation.projects.services import ServiceError
from curation.samples.models import Sample
from curation.seeds.models import SeedSet
from tests.cast import Cast

pytestmark = pytest.mark.django_db


def jsonl(*rows: object) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_imported_samples_wait_for_review_with_import_lineage(cast: Cast) -> None:
    data = jsonl(
        {"prompt": "Hi?", "chosen": "Hello.", "rejected": "Go away.", "source": "hh-rlhf"},
        {"prompt": "Sum 1+1", "chosen": "2", "rejected": "3"},
    )
    result = import_dataset(cast.curator, cast.project, data=data, filename="pairs.jsonl")
    assert result == result | {"format": "dpo", "imported": 2, "duplicates": 0}
    first, second = Sample.objects.filter(project=cast.project).order_by("id")
    assert (first.kind, first.status, first.source) == ("preference", "pending", "import")
    assert first.chosen == [{"role": "assistant", "content": "Hello."}]
    assert first.extra["source"] == "hh-rlhf"
    assert first.extra["import"] == {"file": "pairs.jsonl", "format": "dpo", "at": "line 1"}
    assert "source" not in second.extra


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "the file is empty"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}\n{oops\n', "line 2: invalid JSON"),
        (jsonl({"messages": []}), "line 1: field 'messages' must be a non-empty list"),
        (
            jsonl({"messages": [{"role": "robot", "content": "x"}]}),
            "line 1: messages[0].role must be one of",
        ),
        (jsonl({"prompt": "p", "chosen": "c"}), "line 1: field 'rejected' must be"),
        (jsonl({"prompt": "p", "completion": "c", "label": "yes"}), "field 'label' must be true"),
        (jsonl({"colour": "red"}), "line 1: unrecognised record"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"PAR1 not really", "not a readable Parquet file"),
        (b'[{"text": "a", "label": "b"}, 3]', "item 2: expected a JSON object"),
        (
            jsonl({"text": "a", "label": "b"}, {"text": "c\u0000", "label": "d"}),
            "line 2: contains a NUL",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (
            jsonl({"prompt": "p", "chosen": "c", "rejected": "r", "source": {"x": 1}}),
            "line 1: field 'source' must be text",
        ),
    ],
)
def test_a_bad_file_imports_nothing_and_says_where(cast: Cast, data: bytes, message: str) -> None:
    with pytest.raises(ServiceError, match=re.escape(message)):
        import_dataset(cast.curator, cast.project, data=data)
    assert not Sample.objects.filter(project=cast.project).exists()


def test_the_first_bad_line_stops_a_mixed_file(cast: Cast) -> None:
    good = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    data = jsonl(good, good | {"messages": [{"role": "user", "content": "c"}]}, {"text": "x"})
    with pytest.raises(ServiceError, match="line 3: field 'messages'"):
        import_dataset(cast.curator, cast.project, data=data, fmt="openai")
    assert not Sample.objects.exists()


def test_duplicates_are_skipped_and_counted(cast: Cast) -> None:
    row = {"instruction": "Say hi", "input": "", "output": "hi"}
    first = import_dataset(cast.curator, cast.project, data=jsonl(row, row))
    assert (first["imported"], first["duplicates"]) == (1, 1)
    again = import_dataset(cast.curator, cast.project, data=jsonl(row))
    assert (again["imported"], again["duplicates"]) == (0, 1)


def test_a_dataset_can_become_a_seed_set(cast: Cast) -> None:
    data = jsonl(
        {"prompt": "Name a fruit.", "chosen": "Apple.", "rejected": "Brick."},
        {"prompt": "Name a tree.", "chosen": "Oak.", "rejected": "Sky."},
    )
    result = import_dataset(
        cast.curator, cast.project, data=data, target="seed_set", name="Pairs as seeds"
    )
    seed_set = SeedSet.objects.get(pk=result["seed_set_id"])
    assert seed_set.name == "Pairs as seeds" and seed_set.seed_count == 2
    seed = seed_set.seeds.get(position=1)
    assert seed.payload["messages"][-1] == {"role": "assistant", "content": "Apple."}
    assert seed.payload["meta"]["rejected"] == [{"role": "assistant", "content": "Brick."}]
    assert not Sample.objects.exists()


def test_parquet_columns_that_are_not_json_data_are_a_clear_error(cast: Cast) -> None:
    import datetime
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"text": ["a"], "label": ["b"], "at": [datetime.datetime(2026, 1, 1)]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    with pytest.raises(ServiceError, match="not JSON data"):
        import_dataset(cast.curator, cast.project, data=buf.getvalue(), filename="x.parquet")
    assert not Sample.objects.filter(project=cast.project).exists()

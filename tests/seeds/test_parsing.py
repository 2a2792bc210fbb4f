from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.seeds.parsing import (
    MB,
    ParsedSeed,
    SeedImportError,
    detect_format,
    parse_seed_file,
)

# The shared data sits beside the checkout: ../shared/data from the repository root.
SELF_INSTRUCT = Path(__file__).resolve().parents[3] / "shared/data/self-instruct/seed_tasks.jsonl"

ALPACA = {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"}


def jsonl(*records: Any) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def parquet(tmp_path: Path, rows: list[dict[str, Any]]) -> bytes:
    # Columns from every row (from_pylist would take them from the first row only);
    # a row without a column gets a null there, as in real exports.
    columns = dict.fromkeys(key for row in rows for key in row)
    path = tmp_path / "seeds.parquet"
    pq.write_table(pa.table({c: [row.get(c) for row in rows] for c in columns}), path)
    return path.read_bytes()


def only(data: bytes) -> ParsedSeed:
    seeds = parse_seed_file(data)
    assert len(seeds) == 1
    return seeds[0]


def import_error(data: bytes, **limits: int) -> SeedImportError:
    with pytest.raises(SeedImportError) as caught:
        parse_seed_file(data, **limits)
    return caught.value


# --- Self-Instruct and scale -----------------------------------------------------------


def test_the_self_instruct_seed_tasks_import_as_175_instruction_seeds() -> None:
    seeds = parse_seed_file(SELF_INSTRUCT.read_bytes())

    assert len(seeds) == 175
    assert {s.kind for s in seeds} == {"instruction"}
    assert [s.source_index for s in seeds] == list(range(1, 176))
    assert all(s.payload["instances"] and s.payload["instances"][0]["output"] for s in seeds)
    assert all(isinstance(s.payload["is_classification"], bool) for s in seeds)
    assert any(s.payload["is_classification"] for s in seeds)
    assert seeds[0].payload["meta"] == {"id": "seed_task_0", "name": "breakfast_suggestion"}
    assert seeds[0].payload["instruction"] in seeds[0].text


def test_a_bad_line_in_a_thousand_line_file_is_reported_with_its_line_number() -> None:
    records: list[dict[str, Any]] = [dict(ALPACA, output=f"answer {i}") for i in range(1000)]
    records[411] = {"instruction": "", "output": "no question"}

    error = import_error(jsonl(*records))

    message = "line 412: field 'instruction' must be a non-empty string, got an empty string"
    assert str(error) == message
    assert (error.line, error.field) == (412, "instruction")


def test_a_thousand_line_file_parses_in_well_under_a_second() -> None:
    data = jsonl(*[dict(ALPACA, output=f"answer {i}") for i in range(1000)])

    started = time.perf_counter()
    seeds = parse_seed_file(data)
    elapsed = time.perf_counter() - started

    assert len(seeds) == 1000
    assert elapsed < 0.5


# --- detecting the format ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"text": "a"}\n{"text": "b"}\n', "jsonl"),
        (b'\xef\xbb\xbf  \n{"text": "a"}', "jsonl"),
        (b'[{"text": "a"}]', "json"),
        (b'\n\t [\n  {"text": "a"}\n]', "json"),
        (b"instruction,output\nAdd 2 and 3.,5\n", "csv"),
        (b"PAR1 and the rest of a parquet file", "parquet"),
    ],
    ids=["jsonl", "jsonl-with-bom", "json", "json-after-whitespace", "csv", "parquet"],
)
def test_the_format_is_detected_from_the_content(data: bytes, expected: str) -> None:
    assert detect_format(data) == expected


def test_a_real_parquet_file_is_detected_as_parquet(tmp_path: Path) -> None:
    assert detect_format(parquet(tmp_path, [{"text": "a"}])) == "parquet"


@pytest.mark.parametrize(
    "data", [b"", b"  \n\r\n\t", b"\xef\xbb\xbf"], ids=["empty", "blank", "bom"]
)
def test_an_empty_file_is_rejected(data: bytes) -> None:
    for check in (detect_format, parse_seed_file):
        with pytest.raises(SeedImportError, match=r"^file is empty$"):
            check(data)


def test_a_file_that_is_not_utf8_is_rejected_with_the_line_of_the_bad_byte() -> None:
    data = jsonl({"text": "fine"}) + '{"text": "café"}\n'.encode("latin-1")

    for check in (detect_format, parse_seed_file):
        with pytest.raises(SeedImportError) as caught:
            check(data)
        assert "not UTF-8" in str(caught.value)
        assert "line 2 has the byte 0xe9" in str(caught.value)


def test_a_utf16_file_is_rejected_with_advice() -> None:
    error = import_error('{"text": "a"}'.encode("utf-16"))

    assert "UTF-16" in str(error) and "save it as UTF-8" in str(error)


# --- JSONL ------------------------------------------------------------------------------


def test_blank_lines_are_skipped_but_still_counted() -> None:
    data = b'\n{"text": "first"}\n   \n\n{"text": "second"}\n\n'

    seeds = parse_seed_file(data)

    assert [(s.text, s.source_index) for s in seeds] == [("first", 2), ("second", 5)]


def test_a_line_that_is_not_json_is_reported_as_invalid_json() -> None:
    error = import_error(jsonl({"text": "a"}, {"text": "b"}) + b'{"text": "c",}\n')

    assert str(error).startswith("line 3: invalid JSON (")
    assert error.line == 3


@pytest.mark.parametrize(("line", "got"), [(b"[1, 2]", "an array"), (b'"text"', "a string")])
def test_a_line_that_is_not_an_object_is_rejected(line: bytes, got: str) -> None:
    error = import_error(jsonl({"text": "a"}) + line)

    assert str(error).startswith(f"line 2: expected a JSON object, got {got}")


def test_a_utf8_bom_and_windows_line_endings_are_tolerated() -> None:
    data = b"\xef\xbb\xbf" + jsonl(ALPACA, {"text": "b"}).replace(b"\n", b"\r\n")

    seeds = parse_seed_file(data)

    assert [s.kind for s in seeds] == ["instruction", "text"]
    assert seeds[1].payload["text"] == "b"


def test_a_pretty_printed_single_object_is_named_as_such() -> None:
    error = import_error(json.dumps({"seeds": [{"text": "a"}]}, indent=2).encode())

    assert str(error).startswith("file is a single JSON object; upload JSON Lines")


def test_nulls_count_as_missing_optional_fields() -> None:
    record = {"instruction": "Add.", "input": None, "output": "5", "is_classification": None}

    seed = only(jsonl(dict(record, meta=None)))

    assert seed.payload == {
        "instruction": "Add.",
        "instances": [{"input": "", "output": "5"}],
        "is_classification": False,
        "meta": {},
    }


def test_a_unicode_line_separator_inside_a_string_does_not_split_the_line() -> None:
    data = '{"text": "one\u2028two\u0085three"}\n{"text": "next"}\n'.encode()

    seeds = parse_seed_file(data)

    assert seeds[0].text == "one\u2028two\u0085three"
    assert seeds[1].source_index == 2


def test_hostile_nesting_is_reported_not_crashed() -> None:
    deep = b'{"text": "a", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    error = import_error(deep)
    assert str(error).startswith("line 1: ")

    fairly_deep = b'{"text": "a", "x": ' + b"[" * 200 + b"]" * 200 + b"}\n"
    assert "nested more than" in str(import_error(fairly_deep))


# --- JSON array -------------------------------------------------------------------------


def test_a_json_array_numbers_seeds_by_item() -> None:
    data = json.dumps([ALPACA, {"text": "b"}], indent=2).encode()

    seeds = parse_seed_file(data)

    assert [(s.kind, s.source_index) for s in seeds] == [("instruction", 1), ("text", 2)]


def test_an_item_that_is_not_an_object_is_reported_by_item_number() -> None:
    error = import_error(json.dumps([{"text": "a"}, ["not", "an", "object"]]).encode())

    assert str(error) == "item 2: expected a JSON object, got an array"
    assert error.line == 2


def test_a_bad_field_in_a_json_array_is_reported_by_item_number() -> None:
    error = import_error(json.dumps([{"text": "a"}, {"text": "b"}, {"text": 7}]).encode())

    assert str(error) == "item 3: field 'text' must be a non-empty string, got a number"


def test_invalid_json_in_an_array_file_names_the_line() -> None:
    error = import_error(b'[\n  {"text": "a"},\n  {"text": "b"}\n  {"text": "c"}\n]')

    assert str(error).startswith("line 4: invalid JSON (Expecting ',' delimiter")


# --- CSV --------------------------------------------------------------------------------


def test_a_csv_with_instruction_input_output_columns_imports_as_instruction_seeds() -> None:
    data = b"instruction,input,output,source\nAdd.,2 and 3,5,quiz\nGreet.,,Hello!,manual\n"

    seeds = parse_seed_file(data)

    assert [s.source_index for s in seeds] == [2, 3]
    assert seeds[0].payload == {
        "instruction": "Add.",
        "instances": [{"input": "2 and 3", "output": "5"}],
        "is_classification": False,
        "meta": {"source": "quiz"},
    }
    assert seeds[1].payload["instances"] == [{"input": "", "output": "Hello!"}]
    assert seeds[1].text == "Greet.\nHello!"


def test_a_csv_text_column_imports_as_text_seeds() -> None:
    seeds = parse_seed_file(b"text\nA plain passage.\n\nAnother one.\n")

    assert [(s.kind, s.payload["text"], s.source_index) for s in seeds] == [
        ("text", "A plain passage.", 2),
        ("text", "Another one.", 4),
    ]


def test_csv_line_numbers_count_the_header_and_multiline_cells() -> None:
    data = b'instruction,output\r\nTwo lines.,"first\r\nsecond"\r\nBad.,\r\n'

    error = import_error(data)

    assert str(error) == "line 4: field 'output' must be a non-empty string, got an empty string"


def test_a_csv_row_with_the_wrong_number_of_cells_is_rejected() -> None:
    error = import_error(b"instruction,output\nAdd.,5\nAdd.,5,extra\n")

    assert str(error) == "line 3: row has 3 cells but the header has 2"


def test_a_csv_without_a_known_column_is_rejected_at_the_header() -> None:
    error = import_error(b"colour,shape\nred,round\n")

    assert str(error).startswith("line 1: CSV header names no known fields")
    assert "'colour', 'shape'" in str(error)


def test_a_csv_header_with_a_repeated_column_is_rejected() -> None:
    error = import_error(b"text,text\na,b\n")

    assert str(error) == "line 1: header names column 'text' twice"


def test_a_csv_is_classification_column_becomes_a_boolean() -> None:
    data = b"instruction,output,is_classification\nSpam?,yes,true\nPoem.,Roses,\nSort.,1 2,maybe\n"

    error = import_error(data)
    seeds = parse_seed_file(data.rsplit(b"Sort.", 1)[0])

    assert [s.payload["is_classification"] for s in seeds] == [True, False]
    assert "meta" in seeds[0].payload and seeds[0].payload["meta"] == {}
    assert str(error) == "line 4: field 'is_classification' must be true, false, 1, 0 or empty"


def test_a_csv_with_only_a_header_has_no_seeds() -> None:
    assert str(import_error(b"instruction,input,output\n")) == "file contains no seeds"


# --- Parquet ----------------------------------------------------------------------------


def test_a_parquet_file_imports_instruction_rows(tmp_path: Path) -> None:
    rows = [ALPACA, {"instruction": "Greet.", "input": "", "output": "Hi"}]

    seeds = parse_seed_file(parquet(tmp_path, rows))

    assert [(s.kind, s.source_index) for s in seeds] == [("instruction", 1), ("instruction", 2)]
    assert seeds[0].payload["instances"] == [{"input": "2 and 3", "output": "5"}]


def test_a_parquet_file_with_nested_messages_imports_conversations(tmp_path: Path) -> None:
    rows = [
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
            ]
        },
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "2+2?"},
            ]
        },
    ]

    seeds = parse_seed_file(parquet(tmp_path, rows))

    assert [s.kind for s in seeds] == ["conversation", "conversation"]
    assert seeds[0].payload == {"messages": rows[0]["messages"], "meta": {}}
    assert seeds[1].text == "Be brief.\n2+2?"


def test_a_parquet_file_with_sharegpt_conversations(tmp_path: Path) -> None:
    rows = [{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]}]

    seed = only(parquet(tmp_path, rows))

    assert seed.payload["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Yo"},
    ]


def test_parquet_nulls_count_as_missing_fields(tmp_path: Path) -> None:
    # One schema for all rows: the text row has null instruction/output and vice versa.
    rows = [{"text": "a passage"}, {"instruction": "Add.", "output": "5"}]

    seeds = parse_seed_file(parquet(tmp_path, rows))

    assert seeds[0].payload == {"text": "a passage", "meta": {}}
    assert seeds[1].payload["instances"] == [{"input": "", "output": "5"}]
    assert seeds[1].payload["meta"] == {}


def test_a_bad_parquet_row_is_reported_by_row_number(tmp_path: Path) -> None:
    rows = [{"text": "a"}, {"text": "b"}, {"text": "  "}]

    error = import_error(parquet(tmp_path, rows))

    assert str(error) == "row 3: field 'text' must be a non-empty string, got an empty string"


def test_a_corrupt_parquet_file_is_rejected_clearly(tmp_path: Path) -> None:
    data = parquet(tmp_path, [{"text": "a"}])

    for broken in (data[: len(data) // 2], b"PAR1" + b"\x00" * 64):
        assert str(import_error(broken)).startswith("file is not a readable Parquet file (")


def test_parquet_timestamps_and_decimals_become_strings_in_meta(tmp_path: Path) -> None:
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    table = pa.table({"text": ["a"], "added": [when], "price": pa.array([1], pa.decimal128(5, 2))})
    pq.write_table(table, tmp_path / "typed.parquet")

    seed = only((tmp_path / "typed.parquet").read_bytes())

    assert seed.payload["meta"] == {"added": "2025-01-02T03:04:05+00:00", "price": "1.00"}
    json.dumps(seed.payload)  # what we return must be storable as JSON


# --- shapes -----------------------------------------------------------------------------


def test_an_alpaca_record_without_input_gets_an_empty_input() -> None:
    seed = only(jsonl({"instruction": "Name a colour.", "output": "Blue"}))

    assert seed.kind == "instruction"
    assert seed.payload == {
        "instruction": "Name a colour.",
        "instances": [{"input": "", "output": "Blue"}],
        "is_classification": False,
        "meta": {},
    }


def test_a_self_instruct_instance_keeps_its_extra_keys() -> None:
    record = {"instruction": "Add.", "instances": [{"input": "1 1", "output": "2", "note": "x"}]}

    seed = only(jsonl(record))

    assert seed.payload["instances"] == [{"input": "1 1", "output": "2", "meta": {"note": "x"}}]


def test_a_self_instruct_instance_without_output_names_its_index() -> None:
    record = {
        "instruction": "Add.",
        "instances": [{"input": "1 1", "output": "2"}, {"input": "2 2"}],
    }

    error = import_error(jsonl(record))

    assert str(error) == "line 1: field 'instances[1].output' must be a non-empty string, got null"
    assert error.field == "instances[1].output"


def test_instances_beside_a_flat_output_are_ambiguous() -> None:
    record = dict(ALPACA, instances=[{"input": "", "output": "6"}])
    del record["input"]

    assert (
        str(import_error(jsonl(record))) == "line 1: field 'output' cannot sit beside 'instances'"
    )


def test_sharegpt_roles_are_mapped_to_openai_roles() -> None:
    record = {
        "conversations": [
            {"from": "system", "value": "Be kind."},
            {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello"},
        ],
        "source": "sharegpt",
    }

    seed = only(jsonl(record))

    assert seed.kind == "conversation"
    assert seed.payload == {
        "messages": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
        ],
        "meta": {"source": "sharegpt"},
    }
    assert seed.text == "Be kind.\nHi\nHello"


def test_an_unknown_sharegpt_role_is_named_with_the_line_and_index() -> None:
    bad = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "robot", "value": "Beep"}]}

    error = import_error(jsonl({"text": "a"}, {"text": "b"}, bad))

    assert str(error) == (
        "line 3: conversations[1].from 'robot' is not one of "
        "human, gpt, system, user, assistant, tool"
    )
    assert error.field == "conversations[1].from"


def test_openai_messages_keep_tools_and_tool_calls() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
    tools = [{"type": "function", "function": {"name": "add", "parameters": {}}}]
    record = {
        "messages": [
            {"role": "user", "content": "Add 2 and 3"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "content": "5", "tool_call_id": "c1"},
        ],
        "tools": tools,
    }

    seed = only(jsonl(record))

    assert seed.payload == {"messages": record["messages"], "tools": tools, "meta": {}}
    assert seed.text == "Add 2 and 3\n5"


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "field 'messages' must be a non-empty list of messages"),
        ("hello", "field 'messages' must be a non-empty list of messages"),
        (["hi"], "field 'messages[0]' must be an object, got a string"),
        (
            [{"role": "user", "content": 5}],
            "field 'messages[0].content' must be a string, got a number",
        ),
        (
            [{"role": "assistant", "content": None}],
            "field 'messages[0].content' must be a string, got null",
        ),
        ([{"content": "hi"}], "field 'messages[0].role' is missing; expected one of"),
        ([{"role": "human", "content": "hi"}], "messages[0].role 'human' is not one of system"),
    ],
    ids=["empty", "string", "not-object", "number-content", "null-content", "no-role", "bad-role"],
)
def test_malformed_messages_are_rejected(messages: Any, message: str) -> None:
    error = import_error(jsonl({"messages": messages}))

    assert str(error).startswith(f"line 1: {message}")


def test_tools_must_be_a_list_of_objects() -> None:
    record = {"messages": [{"role": "user", "content": "Hi"}], "tools": "add"}

    assert str(import_error(jsonl(record))) == "line 1: field 'tools' must be a list of objects"


def test_a_text_record_becomes_a_text_seed() -> None:
    seed = only(jsonl({"text": "A passage.", "lang": "en"}))

    assert (seed.kind, seed.payload, seed.text) == (
        "text",
        {"text": "A passage.", "meta": {"lang": "en"}},
        "A passage.",
    )


def test_an_unknown_shape_lists_the_accepted_shapes() -> None:
    error = import_error(jsonl({"text": "a"}, {"colour": "red", "shape": "round"}))

    message = str(error)
    assert message.startswith("line 2: unrecognised seed shape (keys: 'colour', 'shape')")
    for shape in ("Alpaca", "Self-Instruct", "ShareGPT", "OpenAI", "text", "qa", "tool_spec"):
        assert shape in message


def test_unknown_keys_are_kept_under_meta() -> None:
    record = dict(ALPACA, id=7, tags=["math"], extra={"nested": True})

    assert only(jsonl(record)).payload["meta"] == {
        "id": 7,
        "tags": ["math"],
        "extra": {"nested": True},
    }


def test_an_existing_meta_object_is_merged_not_nested() -> None:
    seed = only(jsonl({"text": "a", "meta": {"source": "export"}, "lang": "en"}))

    assert seed.payload["meta"] == {"source": "export", "lang": "en"}


def test_a_key_given_both_in_meta_and_at_the_top_level_is_rejected() -> None:
    error = import_error(jsonl({"text": "a", "meta": {"lang": "fr"}, "lang": "en"}))

    assert str(error) == "line 1: field 'lang' is given both at the top level and in 'meta'"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"instruction": 5, "output": "x"},
            "field 'instruction' must be a non-empty string, got a number",
        ),
        ({"instruction": "   ", "output": "x"}, "field 'instruction' must be a non-empty string"),
        ({"instruction": "Add."}, "field 'output' must be a non-empty string, got null"),
        (
            {"instruction": "Add.", "output": ["5"]},
            "field 'output' must be a non-empty string, got an array",
        ),
        (
            {"instruction": "Add.", "input": 3, "output": "5"},
            "field 'input' must be a string, got a number",
        ),
        ({"instruction": "Add.", "instances": {}}, "field 'instances' must be a non-empty list"),
        ({"text": ""}, "field 'text' must be a non-empty string, got an empty string"),
    ],
    ids=[
        "number-instr",
        "blank-instr",
        "no-output",
        "array-output",
        "number-input",
        "instances",
        "text",
    ],
)
def test_required_fields_must_be_non_empty_strings(record: dict[str, Any], message: str) -> None:
    error = import_error(jsonl(record))

    assert str(error).startswith(f"line 1: {message}")


def test_is_classification_must_be_a_boolean() -> None:
    error = import_error(jsonl(dict(ALPACA, is_classification="yes")))

    assert str(error) == "line 1: field 'is_classification' must be true or false, got a string"


# --- strings ----------------------------------------------------------------------------


def test_text_containing_a_nul_character_is_rejected(tmp_path: Path) -> None:
    in_output = import_error(jsonl({"instruction": "Add.", "output": "5\u0000"}))
    in_meta = import_error(jsonl({"text": "a"}, {"text": "b", "tags": ["ok", "b\u0000d"]}))
    in_csv = import_error(b"text\nfine\nbad\x00cell\n")
    in_parquet = import_error(parquet(tmp_path, [{"text": "a\x00"}]))

    assert str(in_output) == (
        "line 1: field 'output' contains a NUL character (\\x00), which cannot be stored"
    )
    assert (in_meta.line, in_meta.field) == (2, "tags[1]")
    assert (in_csv.line, in_csv.field) == (3, "text")
    assert str(in_parquet).startswith("row 1: field 'text' contains a NUL character")


def test_nan_and_infinity_are_rejected() -> None:
    error = import_error(b'{"text": "a", "score": NaN}\n')

    assert str(error) == "line 1: field 'score' is nan, which cannot be stored"
    assert "inf" in str(import_error(b'[{"text": "a", "score": -Infinity}]'))


def test_html_is_kept_verbatim() -> None:
    script = "<script>alert('x')</script> & <b>bold</b>"

    as_csv = b'text\n"' + script.encode().replace(b'"', b'""') + b'"\n'
    for data in (jsonl({"text": script}), as_csv):
        seed = only(data)
        assert seed.payload["text"] == script
        assert seed.text == script


def test_surrounding_whitespace_is_kept_verbatim() -> None:
    seed = only(jsonl({"instruction": "  Indented.\n", "output": "\tcode\n"}))

    assert seed.payload["instruction"] == "  Indented.\n"
    assert seed.payload["instances"][0]["output"] == "\tcode\n"


# --- limits -----------------------------------------------------------------------------


def test_a_file_over_the_size_limit_reports_both_sizes() -> None:
    error = import_error(b" " * int(73.2 * MB))

    assert str(error) == "file is 73.2 MB; the limit is 50 MB"


def test_a_file_just_over_a_small_limit_shows_its_exact_size() -> None:
    assert (
        str(import_error(b" " * 2049, max_bytes=2048)) == "file is 2,049 bytes; the limit is 2 KB"
    )


def test_a_file_at_the_size_limit_is_accepted() -> None:
    data = jsonl({"text": "a"})

    assert len(parse_seed_file(data, max_bytes=len(data))) == 1


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_too_many_rows_are_rejected(fmt: str, tmp_path: Path) -> None:
    rows = [{"text": f"seed {i}"} for i in range(4)]
    data = {
        "jsonl": lambda: jsonl(*rows),
        "json": lambda: json.dumps(rows).encode(),
        "csv": lambda: ("text\n" + "".join(r["text"] + "\n" for r in rows)).encode(),
        "parquet": lambda: parquet(tmp_path, rows),
    }[fmt]()

    assert len(parse_seed_file(data, max_rows=4)) == 4
    message = str(import_error(data, max_rows=3))
    assert message.startswith("file has ")
    assert message.endswith(" seeds; the limit is 3")

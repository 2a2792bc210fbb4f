"""Seed kinds: each parser's shapes, field mapping, and errors that name the line and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.seeds.kinds import (
    KINDS,
    accepts,
    check_mapping,
    mismatch,
    parse_mapping,
)
from curation.seeds.kinds.detect import detect
from curation.seeds.parsing import ParsedSeed, SeedImportError, detect_format, parse_seed_file


def jsonl(*records: Any) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def only(data: bytes, **options: Any) -> ParsedSeed:
    seeds = parse_seed_file(data, **options)
    assert len(seeds) == 1
    return seeds[0]


def import_error(data: bytes, **options: Any) -> SeedImportError:
    with pytest.raises(SeedImportError) as caught:
        parse_seed_file(data, **options)
    return caught.value


# --- the registry -----------------------------------------------------------------------


def test_every_kind_has_fields_a_payload_and_an_example_that_imports_as_that_kind() -> None:
    for kind, spec in KINDS.items():
        assert spec.id == kind and spec.label and spec.description and spec.detected_by
        assert spec.required or kind == "principle", kind  # text, or a critique request
        seeds = parse_seed_file(jsonl(spec.example))
        assert [s.kind for s in seeds] == [kind]
        payload = seeds[0].payload
        assert (
            set(spec.payload) <= payload.keys() <= {*spec.payload, *spec.payload_optional, "meta"}
        )
        assert payload["meta"] == {}
        json.loads(spec.example_json)


def test_a_recipe_accepts_a_seed_set_only_when_every_kind_in_it_is_accepted() -> None:
    assert accepts({"qa"}, ["qa"])
    assert accepts({"qa", "instruction"}, ["qa"])
    assert not accepts({"qa"}, ["instruction", "qa"])
    assert not accepts({"qa"}, [])
    assert mismatch({"qa"}, ["qa"]) == ""
    assert mismatch({"qa"}, ["instruction", "qa"]) == (
        "This recipe takes qa seeds; the seed set also holds instruction."
    )
    assert "holds no seeds" in mismatch({"qa"}, [], what="STaR")


def test_a_mapping_is_read_from_lines_commas_json_or_repeated_arguments() -> None:
    expected = {"question": "Problem", "answer": "Correct Answer"}

    assert parse_mapping("question=Problem\nanswer=Correct Answer") == expected
    assert parse_mapping("question=Problem, answer=Correct Answer") == expected
    assert parse_mapping(json.dumps(expected)) == expected
    assert parse_mapping(["question=Problem", "answer=Correct Answer"]) == expected
    assert parse_mapping("") == {}


@pytest.mark.parametrize(
    ("kind", "mapping", "message"),
    [
        (None, {"question": "Q"}, "a field mapping needs a kind"),
        ("qa", {"query": "Q"}, "the mapping names 'query', which is not a field of qa"),
        ("qa", {"question": "Q", "answer": "Q"}, "the mapping reads 'Q' for both"),
        ("recipe", {}, "unknown seed kind 'recipe'"),
    ],
    ids=["no-kind", "not-a-field", "same-column", "unknown-kind"],
)
def test_a_bad_mapping_is_refused_before_any_record_is_read(
    kind: str | None, mapping: dict[str, str], message: str
) -> None:
    with pytest.raises(SeedImportError, match=message):
        check_mapping(kind, mapping)
    assert str(import_error(jsonl({"Q": "x"}), kind=kind, mapping=mapping)).startswith(message)


def test_a_malformed_mapping_item_is_named() -> None:
    with pytest.raises(SeedImportError, match="mapping item 'question' is not field=column"):
        parse_mapping("question")


# --- qa ---------------------------------------------------------------------------------


def test_a_gsm8k_answer_keeps_the_solution_and_extracts_the_final_answer() -> None:
    record = {
        "question": "Natalia sold 48 clips in April and half as many in May. How many?",
        "answer": "In May: 48/2 = <<48/2=24>>24.\nIn all: 48+24 = <<48+24=72>>72.\n#### 72",
    }

    seed = only(jsonl(record))

    assert seed.kind == "qa"
    assert seed.payload == {
        "question": record["question"],
        "answer": "72",
        "rationale": "",
        "solution": record["answer"],
        "meta": {},
    }
    assert seed.text == f"{record['question']}\n72"


def test_a_math_solution_gives_its_last_boxed_answer() -> None:
    record = {"problem": "What is $1+1$?", "solution": "We add: $1+1=\\boxed{\\frac{4}{2}}$."}

    seed = only(jsonl(record))

    assert (seed.payload["answer"], seed.payload["solution"]) == (
        "\\frac{4}{2}",
        record["solution"],
    )


def test_a_separate_solution_column_is_kept_beside_a_short_answer() -> None:
    record = {"problem": "2+2?", "answer": 4, "solution": "Two and two make four.", "level": 1}

    seed = only(jsonl(record))

    assert seed.payload == {
        "question": "2+2?",
        "answer": "4",
        "rationale": "",
        "solution": "Two and two make four.",
        "meta": {"level": 1},
    }


@pytest.mark.parametrize(
    "record",
    [
        {"question": "Q?", "answer": "A"},
        {"query": "Q?", "gold": "A"},
        {"problem": "Q?", "target": "A"},
        {"prompt": "Q?", "label": "A"},
        {"question": "Q?", "answer": "A", "explanation": "Because."},
    ],
    ids=["question-answer", "query-gold", "problem-target", "prompt-label", "explanation"],
)
def test_common_question_and_answer_names_are_detected_as_qa(record: dict[str, str]) -> None:
    seed = only(jsonl(record))

    assert (seed.kind, seed.payload["question"], seed.payload["answer"]) == ("qa", "Q?", "A")
    assert seed.payload["rationale"] == record.get("explanation", "")


def test_a_mapped_qa_file_reads_the_named_columns_and_keeps_the_rest_in_meta() -> None:
    data = b"Problem,Correct Answer,Source\nWhy is the sky blue?,Rayleigh scattering,quiz\n"

    seed = only(data, kind="qa", mapping={"question": "Problem", "answer": "Correct Answer"})

    assert seed.payload == {
        "question": "Why is the sky blue?",
        "answer": "Rayleigh scattering",
        "rationale": "",
        "solution": "",
        "meta": {"Source": "quiz"},
    }
    assert seed.source_index == 2


def test_a_missing_mapped_field_names_the_line_the_field_and_the_column() -> None:
    records = [{"Problem": f"Q{i}?", "Correct Answer": "A"} for i in range(12)]
    del records[11]["Correct Answer"]

    error = import_error(
        jsonl(*records), kind="qa", mapping={"question": "Problem", "answer": "Correct Answer"}
    )

    assert str(error) == "line 12: field 'answer' (mapped from 'Correct Answer') is missing"
    assert (error.line, error.field) == (12, "Correct Answer")


def test_a_csv_header_without_the_mapped_column_is_refused_at_line_one() -> None:
    error = import_error(
        b"Problem,Answer\nQ?,A\n", kind="qa", mapping={"question": "Problem", "answer": "Gold"}
    )

    assert str(error).startswith("line 1: CSV header has no column 'Gold' (mapped to 'answer')")


def test_a_qa_record_without_an_answer_lists_the_names_it_accepts() -> None:
    error = import_error(jsonl({"question": "Q?", "answer": "A"}, {"question": "Q?"}), kind="qa")

    assert str(error) == (
        "line 2: field 'answer' must be a non-empty string or a number, got null "
        "(also accepted: gold, target, label, solution)"
    )


def test_a_gsm8k_marker_with_nothing_after_it_is_an_error() -> None:
    error = import_error(jsonl({"question": "Q?", "answer": "Work.\n####   "}))

    assert str(error) == "line 1: field 'answer' has an empty final answer"


# --- documents, word lists, text --------------------------------------------------------


def test_a_document_record_keeps_title_text_and_source() -> None:
    record = {"title": "Tides", "content": "The moon pulls the sea.", "url": "https://x.test/t"}

    seed = only(jsonl(record))

    assert seed.kind == "document"
    assert seed.payload == {
        "title": "Tides",
        "text": "The moon pulls the sea.",
        "source": "https://x.test/t",
        "meta": {},
    }
    assert seed.text == "Tides\nThe moon pulls the sea."


def test_a_markdown_file_is_one_document_titled_by_its_heading() -> None:
    data = b"# Field notes\n\nThe heron waited.\n\n## Later\nIt ate.\n"

    seed = only(data, filename="notes.md")

    assert detect_format(data, "notes.md") == "text"
    assert seed.payload == {
        "title": "Field notes",
        "text": data.decode(),
        "source": "notes.md",
        "meta": {},
    }


def test_a_text_file_of_prose_is_one_document() -> None:
    data = b"It was a bright cold day in April.\nThe clocks were striking thirteen.\n"

    seed = only(data, filename="story.txt")

    assert (seed.kind, seed.payload["text"], seed.payload["title"]) == (
        "document",
        data.decode(),
        "",
    )


def test_a_text_file_with_one_word_per_line_is_a_word_list() -> None:
    data = b"lighthouse\r\n\r\nolive tree\r\n  harbour  \r\n"

    seeds = parse_seed_file(data, filename="words.txt")

    assert [(s.kind, s.payload["word"], s.source_index) for s in seeds] == [
        ("word_list", "lighthouse", 1),
        ("word_list", "olive tree", 3),
        ("word_list", "harbour", 4),
    ]


def test_a_word_list_without_a_txt_name_imports_when_the_kind_is_given() -> None:
    seeds = parse_seed_file(b"apple\npear\n", kind="word_list", filename="words")

    assert [s.payload for s in seeds] == [
        {"word": "apple", "meta": {}},
        {"word": "pear", "meta": {}},
    ]


def test_a_text_file_is_a_document_when_the_kind_says_so() -> None:
    seed = only(b"apple\npear\n", kind="document", filename="fruit.txt")

    assert seed.payload["text"] == "apple\npear\n"


def test_a_json_array_of_strings_is_a_word_list_when_the_kind_says_so() -> None:
    seeds = parse_seed_file(json.dumps(["apple", "pear"]).encode(), kind="word_list")

    assert [s.payload["word"] for s in seeds] == ["apple", "pear"]


def test_a_word_list_line_that_is_a_paragraph_is_refused_with_its_line() -> None:
    data = b"apple\n" + b"x" * 300 + b"\n"

    error = import_error(data, kind="word_list", filename="w.txt")

    assert str(error) == "line 2: field 'word' is 300 characters; a word or phrase is at most 200"


def test_a_plain_text_file_cannot_hold_question_and_answer_seeds() -> None:
    error = import_error(b"What is 2+2?\n", kind="qa", filename="q.txt")

    assert str(error).startswith("a plain text file imports as a document or a word list")


# --- personas, labelled examples, principles --------------------------------------------


def test_a_persona_keeps_its_description_and_attributes() -> None:
    record = {"persona": "A retired sailor.", "name": "Ola", "attributes": {"age": 71}, "id": 3}

    seed = only(jsonl(record))

    assert seed.kind == "persona"
    assert seed.payload == {
        "name": "Ola",
        "description": "A retired sailor.",
        "attributes": {"age": 71},
        "meta": {"id": 3},
    }
    assert seed.text == "Ola\nA retired sailor.\nage: 71"


def test_persona_attributes_must_be_an_object() -> None:
    error = import_error(jsonl({"persona": "A sailor.", "attributes": ["old"]}))

    assert str(error) == "line 1: field 'attributes' must be an object, got an array"


def test_a_labelled_pair_keeps_both_texts_and_a_string_label() -> None:
    record = {"premise": "A man sleeps.", "hypothesis": "A man is awake.", "label": 2}

    seed = only(jsonl(record))

    assert seed.kind == "labelled"
    assert seed.payload == {
        "text": "A man sleeps.",
        "text_b": "A man is awake.",
        "label": "2",
        "meta": {},
    }


def test_a_labelled_csv_imports_with_text_and_label_columns() -> None:
    seeds = parse_seed_file(b"text,label\nGreat phone.,positive\nDead in a day.,negative\n")

    assert [(s.kind, s.payload["label"], s.payload["text_b"]) for s in seeds] == [
        ("labelled", "positive", ""),
        ("labelled", "negative", ""),
    ]


def test_a_labelled_example_without_a_label_names_the_row() -> None:
    error = import_error(b"sentence,label\nGood.,pos\nBad.,\n", kind="labelled")

    assert str(error) == (
        "line 3: field 'label' must be a non-empty string or a number, got an empty string"
    )


def test_a_constitutional_principle_pair_imports_with_its_requests() -> None:
    record = {"critique": "Is the response harmful?", "revision": "Remove the harm."}

    seed = only(jsonl(record))

    assert seed.kind == "principle"
    assert seed.payload == {
        "name": "",
        "text": "Is the response harmful?",
        "critique_request": "Is the response harmful?",
        "revision_request": "Remove the harm.",
        "meta": {},
    }


def test_a_principle_may_be_a_plain_statement() -> None:
    seed = only(jsonl({"principle": "Choose the less harmful response.", "name": "harm"}))

    assert seed.payload == {
        "name": "harm",
        "text": "Choose the less harmful response.",
        "critique_request": "",
        "revision_request": "",
        "meta": {},
    }


def test_a_critique_request_without_its_revision_request_is_an_error() -> None:
    error = import_error(jsonl({"name": "x", "critique_request": "Is it harmful?"}))

    assert str(error) == (
        "line 1: field 'critique_request' needs a non-empty 'revision_request' beside it"
    )
    assert error.field == "revision_request"


# --- instruction, conversation and detection --------------------------------------------


def test_a_dolly_record_imports_as_an_instruction_with_its_context() -> None:
    record = {
        "instruction": "Summarise.",
        "context": "Long text.",
        "response": "Short.",
        "category": "summarization",
    }

    seed = only(jsonl(record))

    assert seed.payload == {
        "instruction": "Summarise.",
        "instances": [{"input": "Long text.", "output": "Short."}],
        "is_classification": False,
        "meta": {"category": "summarization"},
    }


def test_an_instruction_file_can_be_mapped_from_other_column_names() -> None:
    data = b"Task,Answer,cls\nIs it spam?,yes,true\n"

    seed = only(
        data,
        kind="instruction",
        mapping={"instruction": "Task", "output": "Answer", "is_classification": "cls"},
    )

    assert seed.payload == {
        "instruction": "Is it spam?",
        "instances": [{"input": "", "output": "yes"}],
        "is_classification": True,
        "meta": {},
    }


def test_a_chosen_kind_reads_a_record_that_detection_would_call_something_else() -> None:
    seed = only(jsonl({"text": "A passage.", "title": "T"}), kind="text")

    assert (seed.kind, seed.payload) == ("text", {"text": "A passage.", "meta": {"title": "T"}})


def test_a_record_of_the_wrong_shape_for_the_chosen_kind_names_the_missing_field() -> None:
    error = import_error(jsonl({"bio": "A sailor."}), kind="persona")

    assert str(error) == (
        "line 1: field 'description' must be a non-empty string, got null "
        "(also accepted: persona, profile, text)"
    )


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        ({"instruction": "x", "output": "y"}, "instruction"),
        ({"messages": []}, "conversation"),
        ({"question": "q", "answer": "a"}, "qa"),
        ({"text": "t", "label": "l"}, "labelled"),
        ({"text": "t", "title": "x"}, "document"),
        ({"name": "f", "parameters": {}}, "tool_spec"),
        ({"type": "function", "function": {"name": "f"}}, "tool_spec"),
        ({"openapi": "3.1.0", "paths": {}}, "tool_spec"),
        ({"persona": "p"}, "persona"),
        ({"critique_request": "c", "revision_request": "r"}, "principle"),
        ({"word": "w"}, "word_list"),
        ({"text": "t", "lang": "en"}, "text"),
        ({"question": "q"}, None),
    ],
)
def test_unambiguous_shapes_are_detected(record: dict[str, Any], kind: str | None) -> None:
    assert detect(record) == kind


def test_a_mixed_file_gives_each_record_its_own_kind(tmp_path: Path) -> None:
    rows = [{"text": "a passage"}, {"question": "Q?", "answer": "A"}]
    path = tmp_path / "mixed.parquet"
    pq.write_table(
        pa.table({"text": ["a passage", None], "question": [None, "Q?"], "answer": [None, "A"]}),
        path,
    )

    assert [s.kind for s in parse_seed_file(jsonl(*rows))] == ["text", "qa"]
    assert [s.kind for s in parse_seed_file(path.read_bytes())] == ["text", "qa"]

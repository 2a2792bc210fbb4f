"""Knowledge-graph triple seeds (KG2Tool): one (head, relation, tail) fact per record, from
JSONL or a CSV with those columns; names are trimmed single lines, types optional."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curation.seeds.kinds import KINDS
from curation.seeds.kinds.detect import detect
from curation.seeds.parsing import ParsedSeed, SeedImportError, parse_seed_file
from curation.seeds.services import import_seed_set
from tests.factories import ProjectFactory, UserFactory

DEMO = Path(__file__).parents[2] / "curation/demo/data/kg_triples.jsonl"
FACT = {"head": "Ada Brook", "relation": "lives_in", "tail": "Millbrook"}


def jsonl(*records: Any) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def one(data: bytes, **options: Any) -> ParsedSeed:
    [seed] = parse_seed_file(data, **options)
    return seed


def refused(record: dict[str, Any]) -> SeedImportError:
    with pytest.raises(SeedImportError) as caught:
        parse_seed_file(jsonl(record), kind="kg_triple")
    return caught.value


def test_a_head_relation_tail_record_is_detected_and_missing_types_are_empty() -> None:
    seed = one(jsonl(FACT))
    assert seed.kind == "kg_triple" and detect(FACT) == "kg_triple"
    assert seed.payload == {**FACT, "head_type": "", "tail_type": "", "meta": {}}
    assert seed.text == "Ada Brook lives_in Millbrook"


def test_subject_predicate_object_spellings_import_and_unknown_keys_go_to_meta() -> None:
    record = {"subject": " Paris ", "predicate": "capital_of", "object": "France",
              "subject_type": "city", "source_url": "x"}  # fmt: skip
    seed = one(jsonl(record))
    assert seed.kind == "kg_triple"
    assert (seed.payload["head"], seed.payload["relation"], seed.payload["tail"]) == (
        "Paris", "capital_of", "France"
    )  # fmt: skip
    assert seed.payload["head_type"] == "city" and seed.payload["meta"] == {"source_url": "x"}


def test_a_csv_with_head_relation_tail_columns_imports_one_triple_per_row() -> None:
    data = b"head,relation,tail,head_type\nAda,likes,sushi,person\nBen,likes,pizza,person\n"
    seeds = parse_seed_file(data, filename="kg.csv")
    assert [s.kind for s in seeds] == ["kg_triple", "kg_triple"]
    assert [s.payload["tail"] for s in seeds] == ["sushi", "pizza"]
    assert seeds[1].payload["head_type"] == "person" and seeds[1].payload["tail_type"] == ""


def test_a_mapping_names_other_columns() -> None:
    data = b"from,edge,to\nAda,likes,sushi\n"
    mapping = {"head": "from", "relation": "edge", "tail": "to"}
    seed = one(data, kind="kg_triple", mapping=mapping, filename="kg.csv")
    assert (seed.payload["head"], seed.payload["tail"]) == ("Ada", "sushi")


def test_numbers_become_their_digits() -> None:
    seed = one(jsonl({"head": "Apollo 11", "relation": "launched_in", "tail": 1969}))
    assert seed.payload["tail"] == "1969"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"head": "A", "relation": "r"}, "'tail' must be a non-empty string or a number, got null"),
        ({**FACT, "head": "   "}, "'head' must be a non-empty string or a number"),
        ({**FACT, "tail": "two\nlines"}, "'tail' holds several lines"),
        ({**FACT, "relation": "x" * 201}, "a name is at most 200"),
        ({**FACT, "head": ["A"]}, "'head' must be a non-empty string or a number, got an array"),
    ],
)
def test_a_broken_triple_is_refused_with_its_line_and_field(
    record: dict[str, Any], message: str
) -> None:
    error = refused(record)
    assert message in str(error), str(error)
    assert error.line == 1 and str(error).startswith("line 1: ")


def test_the_kind_is_registered_with_an_example_that_imports_as_a_triple() -> None:
    spec = KINDS["kg_triple"]
    assert spec.label == "Knowledge-graph triple"
    assert spec.required == ("head", "relation", "tail")
    assert one(jsonl(dict(spec.example))).payload["tail_type"] == "town"


def test_the_demo_graph_is_sixty_typed_triples_over_five_relations() -> None:
    seeds = parse_seed_file(DEMO.read_bytes())
    assert len(seeds) == 60 and {s.kind for s in seeds} == {"kg_triple"}
    assert len({s.payload["relation"] for s in seeds}) == 5
    assert all(s.payload["head_type"] and s.payload["tail_type"] for s in seeds)
    facts = [(s.payload["head"], s.payload["relation"], s.payload["tail"]) for s in seeds]
    assert len(set(facts)) == len(facts)


@pytest.mark.django_db
def test_a_file_of_triples_imports_as_a_kg_triple_set() -> None:
    owner: Any = UserFactory()
    project: Any = ProjectFactory()
    seed_set = import_seed_set(owner, project, name="KG", data=DEMO.read_bytes())
    assert seed_set.kinds == ["kg_triple"]
    assert seed_set.seeds.count() == 60
    assert seed_set.seeds.filter(kind="kg_triple").count() == 60

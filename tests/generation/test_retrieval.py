"""RET over the run's document seeds: passages, BM25 ranking, and source ids to cite."""

from __future__ import annotations

from generation.recipes.base import SeedRow
from generation.recipes.kit import retrieval

PHOTO = (
    "Photosynthesis is the process by which plants turn light into chemical energy.\n\n"
    "It takes place in the chloroplasts of leaf cells, which hold chlorophyll."
)
VOLCANO = "A volcano is an opening in the crust through which lava, ash and gases escape."


def doc(seed_id: int, title: str, text: str, source: str = "") -> SeedRow:
    payload = {"title": title, "text": text, "source": source}
    return SeedRow(seed_id, "document", payload, f"{title}\n{text}")


SEEDS = [
    doc(1, "Photosynthesis", PHOTO, "https://example.org/photo"),
    doc(2, "Volcanoes", VOLCANO),
    SeedRow(3, "instruction", {"instruction": "Explain photosynthesis."}, "Explain it."),
]


def test_the_best_passage_for_a_question_comes_first_with_its_source_id() -> None:
    index = retrieval.Index.from_seeds(SEEDS)
    found = index.search("Where in the plant does photosynthesis happen? In leaf cells?", k=2)
    assert [p.seed_id for p in found] == [1]  # the volcano shares no word with the question
    assert found[0].id == "doc:1#0" and found[0].score > 0
    cite = found[0].cite()
    assert cite["source"] == "https://example.org/photo" and cite["title"] == "Photosynthesis"
    lava = index.search("What comes out of a volcano?")
    assert lava[0].seed_id == 2


def test_only_document_seeds_are_indexed_and_an_unrelated_query_finds_nothing() -> None:
    index = retrieval.Index.from_seeds(SEEDS)
    assert {p.seed_id for p in index.passages} == {1, 2}
    assert index.search("quantum chromodynamics") == []
    assert retrieval.Index([]).search("anything") == []


def test_rare_words_weigh_more_than_common_ones() -> None:
    index = retrieval.Index.from_seeds(
        [
            doc(1, "", "The process of erosion shapes the land over time."),
            doc(2, "", "The process of distillation separates liquids."),
            doc(3, "", "The process of baking bread takes time."),
        ]
    )
    assert index.search("process distillation")[0].seed_id == 2


def test_long_documents_are_cut_into_overlapping_passages_that_keep_every_word() -> None:
    words = [f"w{i}" for i in range(300)]
    pieces = retrieval.chunk(" ".join(words), words=120, overlap=20)
    assert len(pieces) == 3 and all(len(p.split()) <= 120 for p in pieces)
    assert pieces[1].split()[0] == "w100"  # 20 words shared with the first window
    assert {w for p in pieces for w in p.split()} == set(words)
    short = retrieval.chunk("One short paragraph.\n\nAnother one.", words=120)
    assert short == ["One short paragraph. Another one."]


def test_the_prompt_context_heads_each_passage_with_its_id() -> None:
    found = retrieval.Index.from_seeds(SEEDS).search("chlorophyll")
    assert retrieval.context(found).startswith("[doc:1#0] Photosynthesis: Photosynthesis is")

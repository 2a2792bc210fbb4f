"""generation.rouge: ROUGE-L scores and the pruned novelty index, checked against brute force
and, where installed, the `rouge_score` package Self-Instruct itself uses."""

from __future__ import annotations

import random
from typing import Any

import pytest

from generation.rouge import (
    NoveltyResult,
    RougeIndex,
    lcs_length,
    rouge_l,
    tokenize,
)

WORDS = (
    "write a the an of to and in for on with about poem story essay email letter list "
    "explain describe summarize generate create classify translate rewrite suggest compare "
    "cats dogs ocean city forest computer school music money health travel weather space "
    "short funny formal simple detailed three five ten sentences words ideas reasons ways "
    "given following sentence paragraph text question answer example make sure mention "
    "keep it brief your friend teacher student customer is are what how why which"
).split()
TEMPLATES = (
    "Write a {a} {o} about {n}.",
    "Explain {n} to a {u} in {k} sentences.",
    "Given the following {o}, {v} it.",
    "List {k} {a} ways to improve {n} and {n}.",
    "What are the pros and cons of {n}?",
    "{v} a {o} about {n} for your {u}. Make sure to mention {n}.",
    "Is {n} better than {n}? Explain why.",
    "Classify the following {o} as {a} or {a}.",
)
SLOTS = {
    "a": "short funny formal simple detailed brief creative sad".split(),
    "o": "poem story essay email letter list paragraph joke tweet review".split(),
    "n": "cats dogs ocean city forest computer school music money health travel space".split(),
    "u": "friend teacher student customer manager child".split(),
    "v": "summarize rewrite translate classify describe shorten".split(),
    "k": "2 3 5 10 three five".split(),
}


def instructions(seed: int, count: int, near_dup_rate: float = 0.3) -> list[str]:
    """Varied English-like instructions with many near-duplicates and shared templates."""
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(count):
        r = rng.random()
        if out and r < near_dup_rate:
            words = rng.choice(out).split()
            for _ in range(rng.randint(1, 3)):
                op = rng.random()
                i = rng.randrange(len(words))
                if op < 0.4:
                    words[i] = rng.choice(WORDS)
                elif op < 0.6 and len(words) > 2:
                    del words[i]
                elif op < 0.8:
                    words.insert(i, rng.choice(WORDS))
                else:
                    j = rng.randrange(len(words))
                    words[i], words[j] = words[j], words[i]
            text = " ".join(words)
        elif r < near_dup_rate + 0.1:
            # Free word salad, repeated words included (exercises clipped counts).
            text = " ".join(rng.choice(WORDS[:30]) for _ in range(rng.randint(1, 14)))
        else:
            template = rng.choice(TEMPLATES)
            text = ""
            for part in template.split("{"):
                key, brace, rest = part.partition("}")
                text += rng.choice(SLOTS[key]) + rest if brace else part
            if rng.random() < 0.2:
                text += " " + rng.choice(TEMPLATES).split("{")[0]
        if rng.random() < 0.1:
            text = text.upper() if rng.random() < 0.5 else text + "!!"
        out.append(text)
    return out


def dp_lcs(a: list[Any], b: list[Any]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def brute_scores(pool: list[str], text: str) -> list[float]:
    q = tokenize(text)
    return [rouge_l(q, tokenize(t)) for t in pool]


def brute_top_k(pool: list[str], text: str, k: int) -> list[tuple[float, str]]:
    scores = brute_scores(pool, text)
    order = sorted(range(len(pool)), key=lambda i: (-scores[i], i))[:k]
    return [(scores[i], pool[i]) for i in order]


# --- tokenize / lcs / rouge_l -----------------------------------------------------------


TOKENIZE_CASES = [
    "",
    "   ",
    "!!!",
    "Write a poem about cats",
    "Hello, WORLD! It's 3:45pm -- e-mail me at a_b@example.com.",
    "naïve café über straße İstanbul",
    "tabs\tand\nnewlines\r\nmixed",
    "under_score and hyphen-ated and dots...and",
    "123 4.5 6,7 x86_64",
    "Ünïcödé only: 日本語 テキスト",
]


@pytest.mark.parametrize("text", TOKENIZE_CASES)
def test_tokenize_matches_rouge_score(text: str) -> None:
    rouge_tokenizers = pytest.importorskip("rouge_score.tokenizers")
    assert tokenize(text) == rouge_tokenizers.DefaultTokenizer(use_stemmer=False).tokenize(text)


def test_tokenize_basics() -> None:
    assert tokenize("Write a Poem, about CATS!") == ["write", "a", "poem", "about", "cats"]
    assert tokenize("it's e-mail") == ["it", "s", "e", "mail"]
    assert tokenize("?!") == []


def test_lcs_matches_dp() -> None:
    rng = random.Random(7)
    for _ in range(400):
        alphabet = rng.randint(1, 6)
        a = [rng.randrange(alphabet) for _ in range(rng.randint(0, 90))]
        b = [rng.randrange(alphabet) for _ in range(rng.randint(0, 90))]
        assert lcs_length(a, b) == dp_lcs(a, b)
        assert lcs_length(b, a) == dp_lcs(a, b)


def test_rouge_l_basics() -> None:
    assert rouge_l([], ["a"]) == 0.0
    assert rouge_l(["a"], []) == 0.0
    assert rouge_l(["a", "b"], ["c"]) == 0.0
    assert rouge_l(["a", "b"], ["a", "b"]) == 1.0
    cats = tokenize("Write a poem about cats")
    dogs = tokenize("Write a poem about dogs")
    assert rouge_l(cats, dogs) == pytest.approx(0.8, abs=1e-12)


def test_rouge_l_is_bitwise_symmetric() -> None:
    texts = instructions(3, 200)
    rng = random.Random(3)
    for _ in range(500):
        a, b = tokenize(rng.choice(texts)), tokenize(rng.choice(texts))
        assert rouge_l(a, b) == rouge_l(b, a)


def test_rouge_l_matches_rouge_score_exactly() -> None:
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    texts = instructions(11, 300)
    rng = random.Random(11)
    for _ in range(1500):
        target, prediction = rng.choice(texts), rng.choice(texts)
        expected = scorer.score(target, prediction)["rougeL"].fmeasure
        # Same formula, same operation order: equal to the last bit.
        assert rouge_l(tokenize(target), tokenize(prediction)) == expected


# --- RougeIndex ---------------------------------------------------------------------------


def test_methods_acceptance_example() -> None:
    index = RougeIndex(["Write a poem about cats"])
    result = index.check("Write a poem about dogs")
    assert isinstance(result, NoveltyResult)
    assert result.novel is False
    assert result.max_score == pytest.approx(0.8, abs=1e-12)
    assert result.most_similar == [("Write a poem about cats", result.max_score)]
    assert index.max_similarity("Write a poem about dogs") == (result.max_score, 0)
    assert index.check("Summarize this email for your manager").novel is True


def test_threshold_is_inclusive_like_self_instruct() -> None:
    # 7 of 10 tokens in order on both sides: F = 0.7 up to rounding; novel iff F <= 0.7,
    # computed the way rouge_score computes it.
    pool_item = "a b c d e f g h i j"
    cand = "a b c d e f g x y z"
    f = rouge_l(tokenize(cand), tokenize(pool_item))
    assert f == pytest.approx(0.7, abs=1e-12)
    assert RougeIndex([pool_item]).check(cand).novel is (f <= 0.7)
    assert RougeIndex([pool_item]).check(cand, threshold=0.69).novel is False
    assert RougeIndex([pool_item]).check(cand, threshold=0.71).novel is True


def test_empty_and_degenerate_inputs() -> None:
    empty = RougeIndex()
    assert len(empty) == 0
    assert empty.top_k("anything") == []
    assert empty.max_similarity("anything") == (0.0, None)
    assert empty.check("anything") == NoveltyResult(novel=True, max_score=0.0, most_similar=[])

    index = RougeIndex(["!!!", "alpha beta", "gamma"])
    assert len(index) == 3
    # A query without tokens, or sharing none, scores 0 against everything.
    for query in ("", "???", "delta epsilon"):
        assert index.max_similarity(query) == (0.0, None)
        assert index.top_k(query, k=2) == [(0.0, "!!!"), (0.0, "alpha beta")]
        res = index.check(query)
        assert res.novel and res.max_score == 0.0
        assert [t for t, _ in res.most_similar] == ["!!!", "alpha beta", "gamma"]
    assert index.top_k("gamma", k=0) == []
    assert index.check("gamma", k=0) == NoveltyResult(False, 1.0, [])
    # k beyond the pool: everything, zero scores last in insertion order.
    assert index.top_k("beta", k=10) == [(2 / 3, "alpha beta"), (0.0, "!!!"), (0.0, "gamma")]


def test_add_returns_ids_and_text_round_trips() -> None:
    index = RougeIndex()
    assert [index.add(t) for t in ("one", "two", "one")] == [0, 1, 2]
    assert len(index) == 3
    assert index.text(1) == "two"
    # Exact duplicates tie at 1.0: insertion order breaks the tie.
    assert index.top_k("ONE!", k=2) == [(1.0, "one"), (1.0, "one")]
    assert index.max_similarity("one", threshold=1.0) == (1.0, 0)


def test_repeated_tokens_and_long_texts() -> None:
    rng = random.Random(5)
    pool = [
        " ".join(rng.choice(["the", "cat", "sat", "on", "mat"]) for _ in range(n))
        for n in range(1, 150)
    ]
    index = RougeIndex(pool)
    for _ in range(40):
        query = " ".join(
            rng.choice(["the", "cat", "sat", "dog"]) for _ in range(rng.randint(1, 120))
        )
        assert index.top_k(query, k=7) == brute_top_k(pool, query, 7)


def test_ties_at_the_cut_keep_insertion_order() -> None:
    pool = [f"common words here item{i}" for i in range(40)]
    pool.insert(25, "here words common")  # fewer in order: lower score
    pool.append("common words here")  # exact match, added last
    index = RougeIndex(pool)
    got = index.top_k("common words here", k=7)
    assert got[0] == (1.0, "common words here")
    assert [t for _, t in got[1:]] == [f"common words here item{i}" for i in range(6)]
    assert got == brute_top_k(pool, "common words here", 7)
    assert index.top_k("common words here", k=len(pool)) == brute_top_k(
        pool, "common words here", len(pool)
    )


def _assert_agrees(index: RougeIndex, pool: list[str], query: str, k: int) -> None:
    scores = brute_scores(pool, query)
    expected_top = brute_top_k(pool, query, k)
    got_top = index.top_k(query, k=k)
    assert [t for _, t in got_top] == [t for _, t in expected_top], query
    for (gs, _), (es, _) in zip(got_top, expected_top, strict=True):
        assert abs(gs - es) <= 1e-9

    for threshold in (0.5, 0.7):
        res = index.check(query, threshold=threshold, k=k)
        max_score = max(scores, default=0.0)
        assert res.novel is (max_score <= threshold), query
        assert res.max_score == max_score
        assert res.most_similar == [(t, s) for s, t in expected_top]

        score, item = index.max_similarity(query, threshold=threshold)
        if max_score > threshold:
            # Early exit: some item above the threshold, with its true score.
            assert item is not None and score > threshold and scores[item] == score
        elif max_score > 0:
            assert item is not None and score == max_score == scores[item]
        else:
            assert (score, item) == (0.0, None)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_index_agrees_with_brute_force_as_pool_grows(seed: int) -> None:
    texts = instructions(seed, 700)
    rng = random.Random(seed)
    index = RougeIndex()
    pool: list[str] = []
    for i, text in enumerate(texts):
        if i % 7 == 0 and pool:
            # Queries: fresh texts, near-duplicates (future items) and exact pool items.
            query = rng.choice([text, rng.choice(texts), rng.choice(pool)])
            _assert_agrees(index, pool, query, k=rng.choice([1, 3, 10, 25]))
        assert index.add(text) == len(pool)
        pool.append(text)


def test_self_instruct_filter_loop_matches_brute_force() -> None:
    """The recipe's loop: check each generated instruction, keep it only if novel."""
    stream = instructions(42, 1500)
    index = RougeIndex()
    kept: list[str] = []
    for text in stream:
        res = index.check(text)
        scores = brute_scores(kept, text)
        assert res.novel is all(s <= 0.7 for s in scores)
        assert [s for _, s in res.most_similar] == sorted(scores, reverse=True)[:10]
        if res.novel:
            index.add(text)
            kept.append(text)
    assert 50 < len(kept) < len(stream)  # the filter did reject near-duplicates


def test_large_pool_exercises_cached_bitsets() -> None:
    # Well past the cached-bitset cut-off for the common tokens; queries after more adds
    # must see the new items (cached bitsets are updated on add).
    texts = instructions(9, 3000, near_dup_rate=0.2)
    index = RougeIndex(texts[:2500])
    rng = random.Random(9)
    for query in rng.sample(texts, 15):
        _assert_agrees(index, texts[:2500], query, k=10)
    for text in texts[2500:]:
        index.add(text)
    for query in rng.sample(texts, 15):
        _assert_agrees(index, texts, query, k=10)


def test_index_matches_rouge_score_oracle() -> None:
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    pool = instructions(21, 400)
    index = RougeIndex(pool)
    for query in instructions(22, 60):
        # As Self-Instruct does: the new instruction is the target, pool items predictions.
        scores = [scorer.score(query, p)["rougeL"].fmeasure for p in pool]
        res = index.check(query)
        assert res.novel is (max(scores) <= 0.7)
        assert res.max_score == max(scores)
        expected = sorted(scores, reverse=True)[:10]
        assert [s for _, s in res.most_similar] == pytest.approx(expected, abs=1e-9)

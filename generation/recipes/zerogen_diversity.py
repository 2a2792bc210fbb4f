"""Self-BLEU, ZeroGen's diversity metric: how much each text repeats the others (lower: varied).

Each text is scored with sentence BLEU-4 against all the other texts as references, and the
scores are averaged, as ZeroGen's `scripts/self_bleu.py` does with NLTK (uniform 4-gram
weights, smoothing method 1: a precision with no match counts as 0.1 / its n-gram count; no
unigram match scores 0). Clipped counts come from each n-gram's two highest counts over all
texts, so a run of N texts costs O(N · length), not O(N²). Tokens are words and punctuation
marks (the reference tokenises with spaCy), case kept. Over `limit` texts a fixed random
sample is scored (the reference samples 1,000).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Sequence

ORDER = 4
EPSILON = 0.1  # NLTK SmoothingFunction().method1
LIMIT = 1000
_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def self_bleu(texts: Sequence[str], limit: int = LIMIT) -> float | None:
    """Mean BLEU-4 of each text against the others; None for fewer than two texts."""
    picked = list(texts)
    if len(picked) > limit:
        picked = random.Random(0).sample(picked, limit)
    sentences = [tokens(t) for t in picked]
    if len(sentences) < 2:
        return None
    grams = [[_ngrams(s, n) for n in range(1, ORDER + 1)] for s in sentences]
    tops = [_top_two([g[n] for g in grams]) for n in range(ORDER)]
    lengths = Counter(len(s) for s in sentences)
    scores = [
        _bleu(i, len(s), grams[i], tops, _closest(len(s), lengths)) for i, s in enumerate(sentences)
    ]
    return sum(scores) / len(scores)


def run_self_bleu(run_id: int, limit: int = LIMIT) -> float | None:
    """Self-BLEU of a run's first `limit` stored texts (what the run page shows): bounded
    and the same on every page load."""
    from curation.samples.models import Sample  # a database read; the metric itself has none

    rows = Sample.objects.filter(run_id=run_id).order_by("pk")
    texts = rows.values_list("extra__text", flat=True)[:limit]
    return self_bleu([str(t) for t in texts if t], limit)


def _ngrams(sentence: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(sentence[i : i + n]) for i in range(len(sentence) - n + 1))


def _top_two(
    counts: list[Counter[tuple[str, ...]]],
) -> dict[tuple[str, ...], tuple[int, int, int]]:
    """Per n-gram: (highest count, the text that has it, second-highest count)."""
    top: dict[tuple[str, ...], tuple[int, int, int]] = {}
    for i, counter in enumerate(counts):
        for gram, c in counter.items():
            best, holder, second = top.get(gram, (0, -1, 0))
            if c > best:
                top[gram] = (c, i, best)
            else:
                top[gram] = (best, holder, max(second, c))
    return top


def _closest(length: int, lengths: Counter[int]) -> int:
    """The reference length closest to `length` among the others (ties: the shorter)."""
    others = [n for n, c in lengths.items() if c > (1 if n == length else 0)]
    return min(others, key=lambda n: (abs(n - length), n))


def _bleu(
    i: int,
    length: int,
    grams: list[Counter[tuple[str, ...]]],
    tops: list[dict[tuple[str, ...], tuple[int, int, int]]],
    ref_length: int,
) -> float:
    precisions = []
    for n in range(ORDER):
        matched = 0
        for gram, c in grams[n].items():
            best, holder, second = tops[n][gram]
            matched += min(c, second if holder == i else best)
        total = max(1, sum(grams[n].values()))
        if n == 0 and matched == 0:
            return 0.0
        precisions.append((matched or EPSILON) / total)
    brevity = 1.0 if length > ref_length else math.exp(1 - ref_length / length)
    return brevity * math.exp(math.fsum(math.log(p) / ORDER for p in precisions))

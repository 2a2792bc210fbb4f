"""ROUGE-L novelty filter for Self-Instruct style generation.

Self-Instruct (Wang et al., 2023) keeps a generated instruction only if its ROUGE-L
F-measure against every instruction already in the pool is at most 0.7, and records the
ten most similar pool instructions with their scores. Doing that naively costs one LCS per
pool item per candidate; `RougeIndex` gives the same answers while computing LCS for only a
handful of items.

Exactness. Scores use the `rouge_score` package's formula and operation order, so they are
bit-for-bit what `RougeScorer(["rougeL"]).score(...)` gives, and threshold decisions agree
with it. Pruning rests on one fact: the LCS of two token sequences is at most the size of
their multiset intersection (clipped token counts), so with ``m`` and ``n`` tokens

    F = 2 * LCS / (m + n) <= 2 * overlap / (m + n).

Items that share no token with the query score 0. An inverted index (token -> items) finds
the items sharing a token, rarest tokens first; an item not reached after the rarest tokens
have been scanned can only overlap through the remaining ``R`` token occurrences, so it
scores at most ``2R / (m + R)``. Search stops as soon as that falls below what it still
needs, and exact LCS is computed only for items whose bound can still matter, best bound
first. Bounds carry a 1e-12 margin, far above floating-point error, so pruning never drops
an item that could qualify.

Pure standard library; no Django.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_TOP_K",
    "NoveltyResult",
    "RougeIndex",
    "lcs_length",
    "rouge_l",
    "tokenize",
]

DEFAULT_THRESHOLD = 0.7
DEFAULT_TOP_K = 10

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Slack added to every upper bound: computed scores are within a few ulps of the true
# values, so a bound this much looser can never be beaten by a computed score.
_EPS = 1e-12

_T = TypeVar("_T", bound=Hashable)


def tokenize(text: str) -> list[str]:
    """`rouge_score`'s default tokenizer (no stemming): lowercase, non-[a-z0-9] -> space."""
    return _NON_ALNUM.sub(" ", text.lower()).split()


def _fmeasure(lcs: int, n_target: int, n_prediction: int) -> float:
    # Same operations in the same order as rouge_score's _score_lcs + scoring.fmeasure,
    # so results match bit for bit. Symmetric in its two lengths (IEEE + and * commute).
    if lcs == 0:
        return 0.0
    precision = lcs / n_prediction
    recall = lcs / n_target
    return 2 * precision * recall / (precision + recall)


def _match_masks(tokens: Sequence[_T]) -> dict[_T, int]:
    masks: dict[_T, int] = {}
    for i, tok in enumerate(tokens):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    return masks


def _lcs_bits(masks: dict[_T, int], m: int, other: Iterable[_T]) -> int:
    """Bit-parallel LCS (Allison-Dix / Hyyro): one big-int step per token of `other`.

    `masks[tok]` has bit i set where the first sequence (length m) holds tok. Bits that
    carry past bit m only ever move further up, so masking once at the end is enough.
    """
    full = (1 << m) - 1
    s = full
    get = masks.get
    for tok in other:
        mk = get(tok)
        if mk:
            u = s & mk
            s = (s + u) | (s - u)
    return m - (s & full).bit_count()


def lcs_length(a: Sequence[_T], b: Sequence[_T]) -> int:
    """Length of the longest common subsequence of two token sequences."""
    if not a or not b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    # Bits over the shorter sequence keep the integers small.
    return _lcs_bits(_match_masks(b), len(b), a)


def rouge_l(a_tokens: Sequence[str], b_tokens: Sequence[str]) -> float:
    """ROUGE-L F-measure of two token lists, exactly as `rouge_score` computes it.

    `a_tokens` plays the target, `b_tokens` the prediction; F is symmetric anyway.
    Either list empty -> 0.0.
    """
    if not a_tokens or not b_tokens:
        return 0.0
    return _fmeasure(lcs_length(a_tokens, b_tokens), len(a_tokens), len(b_tokens))


@dataclass(frozen=True, slots=True)
class NoveltyResult:
    """What the novelty filter says about one candidate instruction.

    `novel` is True iff `max_score` <= threshold. `most_similar` holds the top-k pool
    instructions as (text, score), most similar first, ties in insertion order.
    """

    novel: bool
    max_score: float
    most_similar: list[tuple[str, float]]


_NONZERO_BYTE = re.compile(rb"[^\x00]")


def _ids_to_bits(ids: Sequence[int]) -> int:
    """Bitset (a Python int) with bit i set for every i in the ascending list `ids`."""
    if not ids:
        return 0
    buf = bytearray((ids[-1] >> 3) + 1)
    for i in ids:
        buf[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buf, "little")


def _bits_to_ids(bits: int) -> list[int]:
    """The set bits of `bits`, ascending."""
    raw = bits.to_bytes((bits.bit_length() + 7) >> 3, "little")
    out: list[int] = []
    for match in _NONZERO_BYTE.finditer(raw):
        base = match.start() << 3
        byte = raw[match.start()]
        while byte:
            low = byte & -byte
            out.append(base + low.bit_length() - 1)
            byte ^= low
    return out


def _at_least(planes: list[int], tau: int, within: int) -> int:
    """Items of `within` whose bit-sliced count (bit j of it in planes[j]) is >= tau."""
    if tau <= 0:
        return within
    if tau >> len(planes):
        return 0
    greater = 0
    equal = within
    for j in range(len(planes) - 1, -1, -1):
        plane = planes[j]
        if (tau >> j) & 1:
            equal &= plane
        else:
            greater |= equal & plane
            equal &= ~plane
    return greater | equal


class RougeIndex:
    """A growing pool of instructions with exact, pruned ROUGE-L similarity queries.

    Not thread-safe: guard it with a lock if several threads add and query.
    """

    # Postings at least this long keep a cached bitset over item ids, updated on add().
    _DENSE_MIN = 48
    # Seeding: scan the rarest query tokens until this many items share one, then score
    # the most promising of them exactly.
    _SEED_POOL = 64
    _SEED_EVAL = 24

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self._texts: list[str] = []
        self._tokens: list[tuple[int, ...]] = []
        self._lengths: list[int] = []
        self._vocab: dict[str, int] = {}
        # token id -> level j -> ids (ascending) of the items holding the token more than j
        # times. Counting an item once per list it is on, over levels 0..qc-1 of each query
        # token (qc: its count in the query), gives sum(min(qc, c)): the clipped overlap.
        self._postings: list[list[list[int]]] = []
        self._bits: dict[tuple[int, int], int] = {}  # (token id, level) -> bitset of ids
        self._len_bits: list[int] = []  # n -> bitset of the items with n tokens
        for text in texts:
            self.add(text)

    def __len__(self) -> int:
        return len(self._texts)

    def text(self, item_id: int) -> str:
        return self._texts[item_id]

    def add(self, text: str) -> int:
        """Add an instruction to the pool; returns its item id (0, 1, 2, ...)."""
        item_id = len(self._texts)
        bit = 1 << item_id
        vocab = self._vocab
        postings = self._postings
        bits = self._bits
        ids: list[int] = []
        for tok in tokenize(text):
            tid = vocab.get(tok)
            if tid is None:
                tid = vocab[tok] = len(vocab)
                postings.append([])
            ids.append(tid)
        counts: dict[int, int] = {}
        for tid in ids:
            counts[tid] = counts.get(tid, 0) + 1
        for tid, c in counts.items():
            levels = postings[tid]
            for j in range(c):
                if j == len(levels):
                    levels.append([])
                levels[j].append(item_id)
                cached = bits.get((tid, j))
                if cached is not None:
                    bits[tid, j] = cached | bit
        n = len(ids)
        len_bits = self._len_bits
        while len(len_bits) <= n:
            len_bits.append(0)
        len_bits[n] |= bit
        self._texts.append(text)
        self._tokens.append(tuple(ids))
        self._lengths.append(n)
        return item_id

    def max_similarity(
        self, text: str, threshold: float = DEFAULT_THRESHOLD
    ) -> tuple[float, int | None]:
        """Highest ROUGE-L F of `text` against the pool, and the item that has it.

        Returns early, with the first item found scoring above `threshold` (so the score
        is then > threshold but not necessarily the maximum). Otherwise the score is the
        exact maximum. (0.0, None) when no pool item shares a token with `text`.
        """
        found = self._search(text, 1, stop_above=threshold)
        if not found or found[0][0] <= 0.0:
            return 0.0, None
        return found[0]

    def top_k(self, text: str, k: int = DEFAULT_TOP_K) -> list[tuple[float, str]]:
        """The k most similar pool items as (score, text), exact, highest first.

        Ties keep insertion order. If fewer than k items share a token with `text`, the
        rest are filled with the earliest zero-score items, as a full sort would.
        """
        if k <= 0:
            return []
        return [(score, self._texts[i]) for score, i in self._search(text, k)]

    def check(
        self, text: str, threshold: float = DEFAULT_THRESHOLD, k: int = DEFAULT_TOP_K
    ) -> NoveltyResult:
        """Self-Instruct's filter: novel iff ROUGE-L F <= threshold against every item."""
        found = self._search(text, max(k, 1))
        max_score = found[0][0] if found else 0.0
        return NoveltyResult(
            novel=max_score <= threshold,
            max_score=max_score,
            most_similar=[(self._texts[i], score) for score, i in found[: max(k, 0)]],
        )

    def _search(
        self, text: str, k: int, stop_above: float | None = None
    ) -> list[tuple[float, int]]:
        """Exact top-k (score, item id), sorted by score desc then id asc.

        With `stop_above`, returns [(score, id)] for the first item scored above it.
        """
        n_items = len(self._texts)
        if n_items == 0:
            return []
        query = tokenize(text)
        vocab = self._vocab
        q_ids = [vocab.get(tok, -1) for tok in query]
        q_counts: dict[int, int] = {}
        for tid in q_ids:
            if tid >= 0:
                q_counts[tid] = q_counts.get(tid, 0) + 1

        top: list[tuple[float, int]] = []  # min-heap of (score, -id): top[0] goes first
        if q_counts:
            top = self._scan(q_ids, q_counts, k, stop_above)
            if stop_above is not None and top and top[0][0] > stop_above:
                return [(top[0][0], -top[0][1])]

        result = sorted(((s, -neg) for s, neg in top), key=lambda e: (-e[0], e[1]))
        if len(result) < k:
            # Fewer than k items share a token: the rest score 0, earliest ids first.
            have = {i for _, i in result}
            for iid in range(n_items):
                if len(result) >= k:
                    break
                if iid not in have:
                    result.append((0.0, iid))
        return result

    def _scan(
        self,
        q_ids: list[int],
        q_counts: dict[int, int],
        k: int,
        stop_above: float | None,
    ) -> list[tuple[float, int]]:
        """The top-k heap of (score, -id) over the items sharing a token with the query.

        1. Seed: count overlaps (in C, `Counter.update`) over the query's rarest tokens
           until a few dozen items share one, and score the most promising exactly. The
           k-th best of those, `floor`, can only be raised by the rest of the pool.
        2. Filter: an item of n tokens overlapping the query in c tokens scores at most
           2c / (m + n). Exact overlaps for the whole pool come from bit-sliced sums of
           per-token bitsets (a few hundred big-int operations, each over pool/64 words),
           and for each length n the items with c >= floor * (m + n) / 2 are kept.
        3. Score the kept items exactly.
        """
        postings = self._postings
        tokens = self._tokens
        lengths = self._lengths
        m = len(q_ids)

        masks: dict[int, int] = {}
        for i, tid in enumerate(q_ids):
            if tid >= 0:
                masks[tid] = masks.get(tid, 0) | (1 << i)

        top: list[tuple[float, int]] = []
        evaluated: set[int] = set()

        def evaluate(iid: int) -> bool:
            """Score one item into `top`; True when it triggers the early exit."""
            evaluated.add(iid)
            item = tokens[iid]
            score = _fmeasure(_lcs_bits(masks, m, item), m, len(item))
            if stop_above is not None and score > stop_above:
                top[:] = [(score, -iid)]
                return True
            entry = (score, -iid)
            if len(top) < k:
                heapq.heappush(top, entry)
            elif entry > top[0]:
                heapq.heapreplace(top, entry)
            return False

        def bound(overlap: int, n: int) -> float:
            return 2.0 * min(overlap, n) / (m + n) + _EPS

        # 1. Seed from the rarest tokens.
        order = sorted(q_counts, key=lambda t: len(postings[t][0]))
        acc: Counter[int] = Counter()
        pos = 0
        remaining = m  # query token occurrences not yet counted (unknown tokens included)
        seed_pool = max(self._SEED_POOL, 4 * k)
        while pos < len(order) and len(acc) < seed_pool:
            tid = order[pos]
            qc = q_counts[tid]
            for level in postings[tid][:qc]:
                acc.update(level)
            remaining -= qc
            pos += 1

        if pos == len(order):
            # Every item sharing a token has its exact overlap in `acc`: best bound first.
            for b, iid in sorted(((bound(c, lengths[i]), i) for i, c in acc.items()), reverse=True):
                if len(top) == k and b < top[0][0]:
                    break
                if evaluate(iid):
                    break
            return top

        rest = remaining
        seeds = heapq.nlargest(
            max(self._SEED_EVAL, k + 16),
            acc.items(),
            key=lambda e: bound(e[1] + rest, lengths[e[0]]),
        )
        for iid, _ in seeds:
            if evaluate(iid):
                return top
        floor = top[0][0]  # top is full: acc held at least 4k items, all scored > 0

        # 2. Exact overlaps for the whole pool as bit planes: planes[j] holds bit j.
        planes: list[int] = []
        for tid, qc in q_counts.items():
            for j, level in enumerate(postings[tid][:qc]):
                carry = self._bitset(tid, j, level)
                for p in range(len(planes)):
                    plane = planes[p]
                    planes[p] = plane ^ carry
                    carry &= plane
                    if not carry:
                        break
                if carry:
                    planes.append(carry)

        by_tau: dict[int, int] = {}  # minimum overlap -> items of the lengths needing it
        for n, len_bits in enumerate(self._len_bits):
            if not len_bits or bound(m, n) < floor:
                continue
            tau = max(1, int((floor - _EPS) * (m + n) / 2.0))  # rounds down: a superset
            by_tau[tau] = by_tau.get(tau, 0) | len_bits
        kept = 0
        for tau, within in by_tau.items():
            kept |= _at_least(planes, tau, within)

        # 3. Exact scores.
        for iid in _bits_to_ids(kept):
            if iid not in evaluated and evaluate(iid):
                return top
        return top

    def _bitset(self, tid: int, level: int, ids: list[int]) -> int:
        cached = self._bits.get((tid, level))
        if cached is not None:
            return cached
        bits = _ids_to_bits(ids)
        if len(ids) >= self._DENSE_MIN:
            self._bits[tid, level] = bits
        return bits

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

Speed. Every token keeps a posting list of the items holding it (one list per repeat
level, so clipped counts come out right); common tokens also keep it as a bitset, a Python
int with bit i set for item i, updated on `add`. A query adds its tokens' bitsets into
bit-sliced counters (bit j of every item's overlap in one int), which gives the exact
overlap of the whole pool in a few dozen big-int operations over pool/64 machine words.
Items are then scored exactly (bit-parallel LCS) in rounds of decreasing bound, only those
whose bound can still reach the k-th best score: on realistic pools a few dozen LCS
computations per query instead of one per pool item. Bounds carry a margin far above
floating-point error, so pruning never drops an item that could qualify or tie.

Pure standard library; no Django.
"""

from __future__ import annotations

import heapq
import math
import re
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
    _DENSE_MIN = 128
    # How far each round of exact scoring lowers the bound level.
    _LEVEL_STEP = 0.1

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self._texts: list[str] = []
        self._tokens: list[tuple[int, ...]] = []
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
        dense_min = self._DENSE_MIN
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
                level = levels[j]
                level.append(item_id)
                if len(level) > dense_min:
                    bits[tid, j] |= bit
                elif len(level) == dense_min:
                    bits[tid, j] = _ids_to_bits(level)
        n = len(ids)
        len_bits = self._len_bits
        while len(len_bits) <= n:
            len_bits.append(0)
        len_bits[n] |= bit
        self._texts.append(text)
        self._tokens.append(tuple(ids))
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

        An item of n tokens overlapping the query (m tokens) in c tokens scores at most
        2c / (m + n). Exact overlaps for the whole pool come from a bit-sliced sum of
        per-token bitsets: planes[j] holds bit j of every item's overlap, a few dozen
        big-int operations over pool/64 words each. Then, for bound levels L = 0.9, 0.8,
        ... (never below the k-th best score once there are k), the items whose bound
        reaches L (overlap >= L (m + n) / 2, per length n) and were not scored yet are
        scored exactly, until the top-k is full and its k-th score is at least L: nothing
        left can beat it, nor tie it with a smaller id.
        """
        postings = self._postings
        tokens = self._tokens
        m = len(q_ids)

        masks: dict[int, int] = {}
        for i, tid in enumerate(q_ids):
            if tid >= 0:
                masks[tid] = masks.get(tid, 0) | (1 << i)

        planes: list[int] = []
        for tid, qc in q_counts.items():
            for j, ids in enumerate(postings[tid][:qc]):
                carry = self._bitset(tid, j, ids)
                for p in range(len(planes)):
                    plane = planes[p]
                    planes[p] = plane ^ carry
                    carry &= plane
                    if not carry:
                        break
                if carry:
                    planes.append(carry)
        shared = 0  # items sharing at least one token with the query
        for plane in planes:
            shared |= plane

        len_bits = [(n, bits) for n, bits in enumerate(self._len_bits) if bits]
        top: list[tuple[float, int]] = []
        done = 0  # bitset of the items already scored
        level = 1.0
        while shared & ~done:
            if len(top) == k and top[0][0] >= level:
                break
            level = max(0.0, level - self._LEVEL_STEP)
            if len(top) == k:
                # Only items that can still reach the k-th score matter.
                level = max(level, top[0][0])
            by_tau: dict[int, int] = {}  # minimum overlap -> items of lengths needing it
            for n, bits in len_bits:
                if 2.0 * min(n, m) / (m + n) + _EPS < level:
                    continue  # even a full overlap cannot reach the level
                # Least overlap c with 2c / (m + n) >= level, erring low (a superset).
                tau = max(1, math.ceil((level - 1e-9) * (m + n) / 2.0))
                by_tau[tau] = by_tau.get(tau, 0) | bits
            kept = 0
            not_done = ~done
            for tau, within in by_tau.items():
                kept |= _at_least(planes, tau, within & not_done)
            done |= kept
            for iid in _bits_to_ids(kept):
                item = tokens[iid]
                score = _fmeasure(_lcs_bits(masks, m, item), m, len(item))
                if stop_above is not None and score > stop_above:
                    return [(score, -iid)]
                entry = (score, -iid)
                if len(top) < k:
                    heapq.heappush(top, entry)
                elif entry > top[0]:
                    heapq.heapreplace(top, entry)
        return top

    def _bitset(self, tid: int, level: int, ids: list[int]) -> int:
        if len(ids) >= self._DENSE_MIN:
            return self._bits[tid, level]
        return _ids_to_bits(ids)

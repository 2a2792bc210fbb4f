"""Knowledge tags: GEN them for a text, normalise them, rank them by relevance to a seed.

A small function library for recipes that work in tag space (Tag-Evol's knowledge tags,
CodecLM's skills). Every model reply is untrusted: `parse_tags` reads a JSON list (of
strings, or of {"tag": ...} objects as InsTag-style taggers write them), else a comma,
semicolon or line list with bullets and numbering stripped; what it cannot read is left out.

`normalise` puts a tag in one form (case, spaces, hyphens, a light plural → singular rule
on each word), so "Linear-Equations" and "linear equation" are one tag. Near-duplicates
merge through a run's pool (kit/pools.py: ROUGE-L, or embedding cosine): `canonical_in_pool`
names the tag a new one folds into. `relevant` ranks candidate tags by their word overlap
with a seed and its own tags; a recipe draws b of the top `window(b)` with `it.sample`, so
the draw is journaled: the budget that sets difficulty.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from generation.recipes.kit.pools import EmbeddingPool

MAX_WORDS = 6  # a "tag" longer than this is a sentence, not a tag
MAX_CHARS = 60
# Words that end in "s" and are not plurals (or whose singular reads wrong).
_KEEP_S = frozenset(
    "analysis basis bias chaos class gas glass lens news physics mathematics statistics "
    "economics ethics logistics linguistics politics genetics electronics graphics "
    "thermodynamics series species always perhaps its this us yes process address access "
    "success less loss stress business boss cross mass pass kindness awareness".split()
)
_STOP = frozenset(
    "a an and are as at be by for from how in into is it of on or that the this to what "
    "when which who why with you your write give explain describe make list use using".split()
)
# Replies that are chatter, not a tag (a weak model often opens with them).
_CHATTER = frozenset(
    {"sure", "ok", "okay", "here", "yes", "no", "none", "n a", "tag", "knowledge tag", "skill"}
)
_BULLET = re.compile(r"^\s*(?:[-*•·]+|\(?\d{1,3}[.)\]:]|\(?[a-z][.)]\s)\s*", re.I)
_LABEL = re.compile(r"^(?:.*?\b)?(?:tags?|skills?|keywords?)\s*[:：]\s*", re.I)
_FENCE = re.compile(r"```(?:json|text)?", re.I)
_WORD = re.compile(r"[a-z0-9]+(?:['+#.][a-z0-9]+)*")


def parse_tags(text: str) -> list[str]:
    """The tags in a reply, as written (not normalised), in order."""
    text = _FENCE.sub("", text or "").strip()
    found = _json_tags(text)
    if found is None:
        found = []
        for line in text.splitlines():
            line = _LABEL.sub("", _BULLET.sub("", line))
            found.extend(part for part in re.split(r"[,;，、]", line))
    out = []
    for raw in found:
        tag = _BULLET.sub("", str(raw)).strip().strip("\"'`*#[]{}").strip()
        head, _, said = tag.partition(":")
        if said and len(said.split()) > 2:  # "tag: an explanation of it"
            tag = head.strip()
        if (
            tag
            and len(tag) <= MAX_CHARS
            and len(tag.split()) <= MAX_WORDS
            and normalise(tag) not in _CHATTER
        ):
            out.append(tag)
    return out


def _json_tags(text: str) -> list[Any] | None:
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start : end + 1])
    except (ValueError, RecursionError):  # deeply nested brackets are untrusted text too
        return None
    if not isinstance(value, list):
        return None
    out: list[Any] = []
    for v in value:
        if isinstance(v, dict):
            v = v.get("tag") or v.get("name") or v.get("skill") or ""
        if isinstance(v, str | int | float):
            out.append(str(v))
    return out


def singular(word: str) -> str:
    """A light plural → singular rule: categories → category, boxes → box, tags → tag."""
    if len(word) <= 3 or word in _KEEP_S or word.endswith(("ss", "us", "is", "ics")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def normalise(tag: str) -> str:
    """One form per tag: NFKC, lower case, words split on spaces/hyphens/underscores, each
    word made singular; "" for a tag with no word in it."""
    text = unicodedata.normalize("NFKC", tag).casefold()
    words = _WORD.findall(text.replace("_", " ").replace("-", " "))
    return " ".join(singular(w) for w in words)


def normalise_all(tags: Iterable[str], limit: int | None = None) -> list[str]:
    """Normalised, without empties or repeats, in order, at most `limit`."""
    out: list[str] = []
    for tag in tags:
        n = normalise(tag)
        if n and n not in out:
            out.append(n)
    return out[:limit] if limit is not None else out


def pool_texts(pool: Any) -> list[str]:
    """What a run's tag pool (ROUGE-L or embedding, kit/pools.py) has admitted, in order."""
    return list(getattr(pool, "machine", None) or getattr(pool, "texts", None) or [])


def canonical_in_pool(pool: Any, tag: str, nearest: str | None, novel: bool) -> str:
    """The pooled form of a tag after DEDUP: itself if it joined, else its nearest entry
    (a ROUGE-L pool names the text, an embedding pool the key)."""
    if novel or nearest is None:
        return tag
    keys = getattr(pool, "keys", None)
    if isinstance(pool, EmbeddingPool) and keys is not None:
        return pool.texts[keys.index(nearest)] if nearest in keys else tag
    return nearest


def _stems(text: str) -> set[str]:
    return {singular(w)[:6] for w in _WORD.findall(text.casefold()) if w not in _STOP}


def relevant(
    seed: str, candidates: Sequence[str], limit: int, *, own: Sequence[str] = ()
) -> list[str]:
    """The `limit` candidates that share most words with the seed and its own tags (word
    stems; stop words left out). Ties keep the candidates' order, so a replay ranks alike."""
    context = _stems(seed) | _stems(" ".join(own))
    mine = set(normalise_all(own))
    scored = []
    for i, tag in enumerate(candidates):
        if normalise(tag) in mine:
            continue
        stems = _stems(tag)
        overlap = len(stems & context) / len(stems) if stems else 0.0
        scored.append((-overlap, i, tag))
    return [tag for _, _, tag in sorted(scored)[:limit]]


def window(budget: int) -> int:
    """How many of the most relevant tags a budget of b draws from."""
    return max(2 * budget, budget + 3)


async def gen_tags(
    it: Any, template: str, *, limit: int = 8, role: str = "policy", **values: Any
) -> list[str]:
    """GEN: the tags of a text, by `template` (its placeholders filled from `values`),
    parsed and normalised; [] when the reply holds none."""
    values.setdefault("temperature", 0.0)
    values.setdefault("max_tokens", 256)
    got = await it.gen(template, role=role, **values)
    return normalise_all(parse_tags(got.text), limit)


__all__ = [
    "canonical_in_pool",
    "gen_tags",
    "normalise",
    "normalise_all",
    "parse_tags",
    "pool_texts",
    "relevant",
    "singular",
    "window",
]

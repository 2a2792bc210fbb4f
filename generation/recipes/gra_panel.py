"""GRA's panel without the model: who plays which part, the reviewers' gate, and readers
for the generator's, adjudicator's and metadata replies (all untrusted text)."""

from __future__ import annotations

import random
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from generation.recipes.base import SeedRow
from generation.recipes.kit.seeds import seed_prompt

ACCEPT, REJECT, ADJUDICATE = "accept", "reject", "adjudicate"
BY_REVIEWERS, BY_ADJUDICATOR = "accepted_by_reviewers", "accepted_by_adjudicator"  # the path
DIFFICULTIES = {"easy": "easy", "simple": "easy", "basic": "easy", "medium": "medium",
                "moderate": "medium", "intermediate": "medium", "hard": "hard",
                "difficult": "hard", "advanced": "hard", "challenging": "hard"}  # fmt: skip
DOMAIN_KEYS = ("domain", "category", "topic", "subject")
_LABEL = r"^[#*\s>-]*{}[*\s]*(?:[:：]|$)[*\s]*"  # "Label:", or a heading on its own line
_PAIR = re.compile(
    _LABEL.format("instruction") + r"(?P<i>.*?)\n" + _LABEL.format("response") + r"(?P<r>.*)",
    re.I | re.M | re.S,
)
_KEYWORDS = re.compile(_LABEL.format("keywords?") + r"(.+)$", re.I | re.M)
_SUMMARY = re.compile(_LABEL.format("summary") + r"(.+)$", re.I | re.M)
_DOMAIN = re.compile(_LABEL.format("domain") + r"(.+)$", re.I | re.M)
_DIFFICULTY = re.compile(_LABEL.format("difficulty") + r"([a-z]+)", re.I | re.M)
_DECISION = re.compile(r"decision[*\s]*[:：][*\s]*(accept|reject)", re.I)


@dataclass(frozen=True)
class Panel:
    """The pool roles one sample gets: one generator, its reviewers, one adjudicator."""

    generator: str
    reviewers: tuple[str, ...]
    adjudicator: str


def assign(rng: random.Random, pool: Sequence[str], n_reviewers: int) -> Panel:
    """A random assignment: the generator never reviews or adjudicates its own sample, and
    reviewers and adjudicator are distinct while the pool has enough members."""
    order = list(pool)
    rng.shuffle(order)
    generator, rest = order[0], order[1:] or order[:1]
    reviewers = tuple(rest[i % len(rest)] for i in range(n_reviewers))
    spare = [r for r in rest if r not in reviewers]
    return Panel(generator, reviewers, spare[0] if spare else rest[n_reviewers % len(rest)])


@dataclass(frozen=True)
class Gate:
    verdict: str  # accept | reject | adjudicate
    mean: float
    std: float  # population standard deviation of the reviewers' scores


def gate(scores: Sequence[float], accept_mean: float, max_std: float, reject_below: float) -> Gate:
    """Accept a high mean the reviewers agree on, reject a low one, adjudicate the rest."""
    mean, std = round(statistics.fmean(scores), 4), round(statistics.pstdev(scores), 4)
    if mean >= accept_mean and std <= max_std:
        return Gate(ACCEPT, mean, std)
    if mean < reject_below:
        return Gate(REJECT, mean, std)
    return Gate(ADJUDICATE, mean, std)


def parse_pair(text: str) -> tuple[str, str] | None:
    """(instruction, response) from "Instruction: … Response: …", or None."""
    found = _PAIR.search(text.strip())
    if not found:
        return None
    instruction, response = found.group("i").strip(), found.group("r").strip()
    return (instruction, response) if instruction and response else None


def parse_keywords(text: str) -> tuple[str, str]:
    """(keywords, summary); a reply without the labels is taken as the summary."""
    keywords, summary = _KEYWORDS.search(text), _SUMMARY.search(text)
    if not keywords and not summary:
        return "", " ".join(text.split())[:400]
    return (keywords.group(1).strip()[:400] if keywords else "",
            summary.group(1).strip()[:400] if summary else "")  # fmt: skip


def parse_decision(text: str) -> str | None:
    """The adjudicator's last "Decision: accept|reject", or None."""
    found = _DECISION.findall(text)
    return found[-1].lower() if found else None


def parse_metadata(text: str) -> tuple[str | None, str | None]:
    """(domain, difficulty: easy | medium | hard), each None when unreadable."""
    domain, difficulty = _DOMAIN.search(text), _DIFFICULTY.search(text)
    named = " ".join(domain.group(1).split()).strip(" .*").lower()[:40] if domain else ""
    level = DIFFICULTIES.get(difficulty.group(1).lower()) if difficulty else None
    return named or None, level


def seed_domain(seed: SeedRow) -> str:
    """The seed's own domain (domain, category, topic or subject, also in its meta)."""
    payload = seed.payload
    meta = payload.get("meta")
    for source in (payload, meta if isinstance(meta, dict) else {}):
        for key in DOMAIN_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())[:40]
    return "general"


def seed_example(seed: SeedRow) -> str:
    """The seed as the generator reads it: its task and, when it has one, its answer."""
    payload = seed.payload
    answer = ""
    if seed.kind == "qa":
        answer = str(payload.get("answer") or "")
    elif payload.get("instances"):
        answer = str((payload["instances"][0] or {}).get("output") or "")
    task = seed_prompt(seed)
    return f"Instruction: {task}\nResponse: {answer.strip()}" if answer.strip() else task

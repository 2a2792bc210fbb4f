"""Benchmark: RougeIndex.check() against brute force on a growing 50k-instruction pool.

Builds the pool incrementally (`add`) from seeded, Self-Instruct-like synthetic
instructions (templates over Zipf-weighted word lists with a long tail of rare words,
optional follow-up sentences, ~5% near-duplicates of earlier ones). At pool sizes 1k, 10k
and 50k it times `check()` for candidates (3/4 fresh, 1/4 near-duplicates of pool items),
and brute force (the same exact ROUGE-L for every pool item, then a full sort) for a sample
of them, and counts any disagreement in the decision or the top-10. At the largest size it
also times the recipe's loop (check, add if novel) and, if the `rouge_score` package is
installed, what Self-Instruct itself does per candidate (`_score_lcs` over the pool).

    .venv/bin/python bench/rouge_index.py [--pool 50000] [--candidates 300] [--brute 50]

Prints one JSON line: the figures at the largest pool size, then a per-size breakdown.
Exits 1 if the index and brute force disagreed anywhere.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generation.rouge import RougeIndex, rouge_l, tokenize

VERBS = (
    "write explain describe list summarize generate create classify translate rewrite "
    "suggest compare identify find give provide design outline convert calculate edit "
    "analyze brainstorm draft compose recommend predict evaluate critique paraphrase "
    "simplify expand categorize rank sort extract detect correct plan estimate name"
).split()
OBJECTS = (
    "poem story essay email letter tweet headline recipe summary paragraph dialogue joke "
    "haiku review slogan description speech quiz riddle limerick song title abstract "
    "outline report proposal plan itinerary menu checklist guide tutorial argument "
    "analogy metaphor question answer definition example list table chart timeline "
    "biography advertisement announcement invitation apology complaint memo agenda"
).split()
ADJECTIVES = (
    "short long funny sad formal informal persuasive creative detailed brief simple "
    "complex historical modern ancient scientific technical friendly professional "
    "catchy dramatic romantic mysterious inspiring educational humorous polite "
    "sarcastic optimistic critical balanced concise vivid nostalgic playful serious "
    "surprising thoughtful healthy cheap quick popular rare famous local global"
).split()
NOUNS = (
    "cats dogs climate ocean city village forest mountain river computer robot phone "
    "internet school teacher student doctor hospital bank money market economy election "
    "government law court music painting movie book library museum garden kitchen "
    "coffee tea bread pizza vegetables fruit exercise sleep meditation travel airport "
    "train car bicycle electricity solar wind energy water pollution recycling "
    "friendship family wedding birthday holiday winter summer rain snow storm space "
    "planet moon star galaxy history revolution war peace democracy privacy security "
    "password startup company customer product software database algorithm network "
    "vaccine virus health diet language grammar vocabulary poetry novel chess football "
    "basketball tennis olympics job interview resume salary meeting deadline team"
).split()
AUDIENCES = (
    "a five year old|a teenager|a college student|a software engineer|a busy parent|"
    "a small business owner|a retired teacher|a new employee|your manager|a customer|"
    "a tourist|a scientist|a beginner|an expert|your best friend|a grandparent"
).split("|")
CONSTRAINTS = (
    "in three sentences|in under 50 words|using simple words|in the style of shakespeare|"
    "as a bulleted list|with a happy ending|without using the letter e|in rhyming couplets|"
    "in a formal tone|from the point of view of a cat|in 2 paragraphs|with exactly 5 items|"
    "in the second person|using at least one metaphor|in a numbered list|in one sentence"
).split("|")

# Task skeletons; {P} slots take a noun phrase, so most of an instruction is content.
TEMPLATES = (
    "{V} a {A} {O} about {P}",
    "{V} a {O} about {P} for {U}",
    "{V} a {A} {O} that connects {P} with {P}",
    "explain {P} to {U}",
    "explain the difference between {P} and {P}",
    "given the following {O} about {P}, {V} it",
    "given a {O} on {P}, {V} the main points",
    "what are the pros and cons of {P}",
    "how can {U} use {P} to improve {P}",
    "list {K} ways to make {P} more {A}",
    "give me {K} {A} ideas for a {O} about {P}",
    "classify the following {O} about {P} as {A} or {A}",
    "find the main idea of this {O} about {P}",
    "suggest a {A} name for a {P} startup",
    "translate the following {O} about {P} into {L}",
    "why is {P} important for {U}",
    "rewrite this {O} on {P} to be more {A} and less {A}",
    "design a {K} day plan to learn about {P}",
    "is {P} better than {P}",
    "generate {K} questions about {P} for {U}",
    "tell me something {A} about {P}",
    "{V} how {P} affects {P}",
    "what would happen if {P} disappeared from {P}",
    "compose a {O} in which {P} meets {P}",
)
PREFIXES = ("", "", "", "", "please ", "can you ", "i need you to ", "your task is to ")
FOLLOW_UPS = (
    "Make sure to mention {P} and keep it {A}.",
    "Focus on {P}.",
    "Use {P} as an example.",
    "Include {K} facts about {P}.",
    "The {O} should be {C}.",
    "Avoid talking about {P}.",
    "Assume the reader knows nothing about {P}.",
    "End with a question about {P}.",
)
LANGUAGES = "french spanish german italian japanese chinese portuguese korean".split()


def _pseudo_words(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """A long tail of rarer made-up content words (real instruction pools have thousands)."""
    onsets = "b c d f g h j k l m n p r s t v w z br cl dr fl gr pl st tr sh ch th".split()
    vowels = "a e i o u ai ea io ou".split()
    codas = ["", "", "n", "r", "s", "t", "l", "m", "x", "nd", "st"]
    out: list[str] = []
    while len(out) < count:
        word = "".join(
            rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(1, 3))
        ) + rng.choice(codas)
        if len(word) > 2 and word not in taken:
            taken.add(word)
            out.append(word)
    return out


def _zipf(words: list[str], s: float = 1.0) -> tuple[list[str], list[float]]:
    """Words with cumulative Zipf weights (rank r drawn with probability ~ 1 / r**s)."""
    cum: list[float] = []
    total = 0.0
    for r in range(len(words)):
        total += 1.0 / (r + 1) ** s
        cum.append(total)
    return words, cum


class InstructionGenerator:
    """Seeded stream of Self-Instruct-like instructions, with near-duplicates mixed in."""

    def __init__(self, seed: int = 0, near_dup_rate: float = 0.05) -> None:
        self.rng = random.Random(seed)
        self.near_dup_rate = near_dup_rate
        self.history: list[str] = []
        taken = set(VERBS + OBJECTS + ADJECTIVES + NOUNS)
        words_rng = random.Random(0)  # the vocabulary is the same for every seed
        self._pools = {
            key: _zipf(list(words))
            for key, words in {
                "V": VERBS,
                "O": OBJECTS + _pseudo_words(words_rng, 300, taken),
                "A": ADJECTIVES + _pseudo_words(words_rng, 1500, taken),
                "N": NOUNS + _pseudo_words(words_rng, 8000, taken),
                "U": AUDIENCES,
                "C": CONSTRAINTS,
                "L": LANGUAGES,
            }.items()
        }
        self._all_words = [w for key in "VOAN" for w in self._pools[key][0]]

    def _pick(self, key: str) -> str:
        words, cum = self._pools[key]
        return self.rng.choices(words, cum_weights=cum)[0]

    def _phrase(self) -> str:
        r = self.rng.random()
        if r < 0.45:
            return self._pick("N")
        if r < 0.75:
            return f"{self._pick('A')} {self._pick('N')}"
        if r < 0.9:
            return f"the {self._pick('N')} of {self._pick('N')}"
        return f"{self._pick('N')} and {self._pick('N')}"

    def _fill(self, template: str) -> str:
        out: list[str] = []
        for part in template.split("{"):
            key, brace, rest = part.partition("}")
            if not brace:
                out.append(part)
                continue
            if key == "P":
                out.append(self._phrase())
            elif key == "K":
                out.append(str(self.rng.randint(2, 12)))
            else:
                out.append(self._pick(key))
            out.append(rest)
        return "".join(out)

    def fresh(self) -> str:
        text = self.rng.choice(PREFIXES) + self._fill(self.rng.choice(TEMPLATES))
        if self.rng.random() < 0.3:
            text += f" {self._pick('C')}"
        text = (
            text[0].upper()
            + text[1:]
            + ("?" if text.startswith(("what", "how", "is", "why", "can")) else ".")
        )
        # Model-written instructions often add a sentence or two of detail.
        for _ in range(self.rng.choice((0, 0, 1, 1, 2))):
            text += " " + self._fill(self.rng.choice(FOLLOW_UPS))
        return text

    def near_duplicate(self, text: str) -> str:
        words = text.split()
        for _ in range(self.rng.randint(1, 2)):
            op = self.rng.random()
            i = self.rng.randrange(len(words))
            if op < 0.5:
                words[i] = self.rng.choice(self._all_words)
            elif op < 0.7 and len(words) > 3:
                del words[i]
            elif op < 0.9:
                words.insert(i, self.rng.choice(self._all_words))
            else:
                j = self.rng.randrange(len(words))
                words[i], words[j] = words[j], words[i]
        return " ".join(words)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.history and self.rng.random() < self.near_dup_rate:
            text = self.near_duplicate(self.rng.choice(self.history))
        else:
            text = self.fresh()
        self.history.append(text)
        return text


def brute_force(
    pool_tokens: list[list[str]], pool: list[str], text: str, k: int = 10
) -> tuple[bool, float, list[tuple[str, float]]]:
    """One exact ROUGE-L per pool item (the same scorer), then a full sort."""
    q = tokenize(text)
    scores = [rouge_l(q, t) for t in pool_tokens]
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
    max_score = scores[order[0]] if order else 0.0
    return max_score <= 0.7, max_score, [(pool[i], scores[i]) for i in order]


def _ms(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return round(p50 * 1000, 3), round(p95 * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=50_000)
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--brute", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    checkpoints = sorted({s for s in (1_000, 10_000, args.pool) if s <= args.pool})
    gen = InstructionGenerator(seed=args.seed)
    probe_gen = InstructionGenerator(seed=args.seed + 1)
    index = RougeIndex()
    pool: list[str] = []
    pool_tokens: list[list[str]] = []
    build_s = 0.0
    per_size: dict[str, dict[str, float]] = {}
    row: dict[str, float] = {}
    mismatches = 0

    for size in checkpoints:
        started = time.perf_counter()
        while len(index) < size:
            text = next(gen)
            index.add(text)
            pool.append(text)
        build_s += time.perf_counter() - started
        pool_tokens.extend(tokenize(t) for t in pool[len(pool_tokens) :])

        # Candidates: fresh instructions plus near-duplicates of pool items (~1 in 4),
        # the mix a generator produces once the pool is saturating.
        candidates = []
        for _ in range(args.candidates):
            if probe_gen.rng.random() < 0.25:
                candidates.append(probe_gen.near_duplicate(probe_gen.rng.choice(pool)))
            else:
                candidates.append(probe_gen.fresh())

        check_times: list[float] = []
        results = []
        rejected = 0
        for cand in candidates:
            t0 = time.perf_counter()
            res = index.check(cand)
            check_times.append(time.perf_counter() - t0)
            results.append(res)
            rejected += not res.novel

        brute_times: list[float] = []
        for cand, res in list(zip(candidates, results, strict=True))[: args.brute]:
            t0 = time.perf_counter()
            novel, max_score, top = brute_force(pool_tokens, pool, cand)
            brute_times.append(time.perf_counter() - t0)
            if (novel, max_score, top) != (res.novel, res.max_score, res.most_similar):
                mismatches += 1

        p50, p95 = _ms(check_times)
        b50, _ = _ms(brute_times)
        row = {
            "check_ms_p50": p50,
            "check_ms_p95": p95,
            "check_ms_mean": round(statistics.fmean(check_times) * 1000, 3),
            "brute_ms_p50": b50,
            "speedup": round(b50 / p50, 1) if p50 else float("inf"),
            "reject_rate": round(rejected / len(candidates), 3),
        }
        per_size[str(size)] = row

    # The recipe's loop at full size: check each new instruction, add it if novel.
    extra: dict[str, float | int] = {}
    loop_times: list[float] = []
    added = 0
    for _ in range(args.candidates):
        cand = next(gen)
        t0 = time.perf_counter()
        if index.check(cand).novel:
            index.add(cand)
            added += 1
        loop_times.append(time.perf_counter() - t0)
    extra["check_add_ms_mean"] = round(statistics.fmean(loop_times) * 1000, 3)
    extra["loop_added"] = added

    try:
        from rouge_score import rouge_scorer
    except ImportError:
        pass
    else:
        # What Self-Instruct runs per candidate (there spread over worker processes).
        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
        ref_times: list[float] = []
        for cand in candidates[:3]:
            t0 = time.perf_counter()
            cand_tokens = scorer._tokenizer.tokenize(cand)
            for other in pool_tokens:
                rouge_scorer._score_lcs(cand_tokens, other)
            ref_times.append(time.perf_counter() - t0)
        extra["rouge_score_ms_p50"] = round(statistics.median(ref_times) * 1000, 1)

    print(
        json.dumps(
            {
                "bench": "rouge_index",
                "pool": checkpoints[-1],
                **row,
                "build_s": round(build_s, 2),
                **extra,
                "candidates": args.candidates,
                "brute_sampled": min(args.brute, args.candidates),
                "mismatches": mismatches,
                "by_pool": per_size,
            }
        )
    )
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()

"""SynPO's texts: keywords drawn from seeds, gold responses, and the model outputs it reads.

Keywords are what SynPO's self-prompt generator starts from (three per prompt). Where a
run gives no keyword list, content words of the seed prompts stand in: lower-cased words of
four letters or more, without stop words and the verbs every instruction shares.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence

from generation.recipes.base import SeedRow
from generation.recipes.kit.retrieval import STOPWORDS
from generation.recipes.kit.seeds import seed_prompt

GOLD_KINDS = frozenset({"instruction", "conversation", "qa"})
_WORD = re.compile(r"[^\W\d_][^\W_]*(?:[-'][^\W_]+)*", re.UNICODE)
# Words every request has: they say nothing about a topic.
_GENERIC = frozenset(
    "about also answer any brief could each explain following give given into just list "
    "make many more most much must need only other please provide should some such sure "
    "tell than that them then there these they this those using very what when where which "
    "while would write your yours".split()
)
_PROMPT_LABEL = re.compile(r"^\s*\**\s*(?:new\s+)?(?:prompt|request)\s*\**\s*:\s*", re.I)
_IMPROVED_OPEN = re.compile(r"^\s*(?:<improved>|\**improved(?: answer| response)?\**\s*:)\s*", re.I)


def gold_of(seed: SeedRow) -> str:
    """The seed's gold response: a QA seed's worked solution (or rationale and answer, or the
    answer), an instruction's first output, a conversation's first assistant reply."""
    payload = seed.payload
    if seed.kind == "qa":
        solution = str(payload.get("solution") or "").strip()
        rationale = str(payload.get("rationale") or "").strip()
        answer = str(payload.get("answer") or "").strip()
        if solution:
            return solution
        return f"{rationale}\n\nThe answer is {answer}." if rationale and answer else answer
    if seed.kind == "instruction":
        first = (payload.get("instances") or [{}])[0]
        return str(first.get("output") or "").strip()
    messages = payload.get("messages") or []
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    for m in messages[users[0] + 1 :] if users else []:
        if m.get("role") == "assistant" and m.get("content"):
            return str(m["content"]).strip()
    return ""


def with_gold(seeds: Iterable[SeedRow]) -> list[SeedRow]:
    """The seeds that can teach the improver: a prompt and a gold response."""
    return [s for s in seeds if s.kind in GOLD_KINDS and seed_prompt(s) and gold_of(s)]


def content_words(text: str) -> list[str]:
    """Distinct topic words of a text, in order of first appearance."""
    words = (w.lower() for w in _WORD.findall(text))
    keep = (w for w in words if len(w) >= 4 and w not in STOPWORDS and w not in _GENERIC)
    return list(dict.fromkeys(keep))


def keyword_pool(texts: Iterable[str]) -> list[str]:
    """Keywords from many texts (the seed prompts), each once."""
    return list(dict.fromkeys(w for text in texts for w in content_words(text)))


def clean_keywords(raw: Iterable[str]) -> list[str]:
    """A keyword list as given (params): trimmed, blanks and repeats dropped, case kept."""
    seen: dict[str, str] = {}
    for word in raw:
        word = " ".join(str(word).split())
        if word and word.lower() not in seen:
            seen[word.lower()] = word
    return list(seen.values())


def keywords_in(text: str, keywords: Sequence[str]) -> list[str]:
    """The keywords the text uses, case-insensitively, each at the start of a word ("river"
    is found in "rivers"); the words of a phrase may be spread by any whitespace."""
    found = []
    for keyword in keywords:
        parts = [re.escape(p) for p in keyword.split()]
        if parts and re.search(r"(?<![^\W_])" + r"\s+".join(parts), text, re.I):
            found.append(keyword)
    return found


def shot_keywords(prompt: str, k: int, rng: random.Random) -> list[str]:
    """k keywords of a seed prompt, for a demonstration of keywords → prompt."""
    words = content_words(prompt)
    return rng.sample(words, min(k, len(words)))


def read_prompt(text: str) -> str:
    """The new prompt: the reply without a "Prompt:" label, quotes, or a next "Keywords:"."""
    text = re.split(r"\n\s*Keywords\s*:", text, maxsplit=1, flags=re.I)[0]
    text = _PROMPT_LABEL.sub("", text.strip())
    return text.strip().strip('"').strip()


def read_improved(text: str) -> str:
    """The improved answer: the reply inside <improved>…</improved>, or the reply as is."""
    text = _IMPROVED_OPEN.sub("", text.strip())
    return text.split("</improved>", 1)[0].strip()


def same_text(a: str, b: str) -> bool:
    """Whether two answers are the same text but for case and whitespace."""
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def generator_examples(shots: Sequence[tuple[list[str], str]]) -> str:
    """Demonstrations for the prompt generator: keywords, then the seed prompt."""
    return "\n\n".join(f"Keywords: {', '.join(kw)}\nPrompt: {prompt}" for kw, prompt in shots)


def improver_examples(shots: Sequence[tuple[str, str | None, str]]) -> str:
    """Demonstrations for the improver: the request, the policy's draft (when drafted) and
    the gold answer as the improved one."""
    blocks = []
    for n, (prompt, draft, gold) in enumerate(shots, 1):
        parts = [f"Example {n}", f"<request>\n{prompt}\n</request>"]
        if draft is not None:
            parts.append(f"<draft>\n{draft or '(no answer)'}\n</draft>")
        parts.append(f"<improved>\n{gold}\n</improved>")
        blocks.append("\n".join(parts))
    return "\n\n".join(blocks)

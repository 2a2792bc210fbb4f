"""A document search env over the project's document seeds: a local stand-in for the web.

The agent searches (BM25 over passages, kit.retrieval), opens a document a page at a
time, and quotes from it; a quote is checked against the document's text, so an answer can
cite only what is there. ReST-meets-ReAct and AgentInstruct use it instead of a live web
search, which Seedbed never reaches.

Task: `{"question": "…", "answer": "gold" (optional)}`. The checker: with a gold answer,
success when the final answer matches it (kit.answers' normalised match, or the gold text
inside the answer); without one, success when there is an answer and every quote was found.
The score adds the share of quotes found.
"""

from __future__ import annotations

from typing import Any

from generation.envs.base import Env, Observation, Verdict, clip, tool
from generation.recipes.base import SeedRow
from generation.recipes.kit import answers
from generation.recipes.kit.retrieval import Index

PAGE_CHARS = 1500


class DocSearchEnv(Env):
    name = "docsearch"

    def __init__(self, documents: list[SeedRow], *, k: int = 3) -> None:
        super().__init__()
        self.docs = {f"doc{s.id}": s for s in documents if s.kind == "document"}
        if not self.docs:
            raise ValueError("docsearch: the seed set has no document seeds to search")
        self.index = Index.from_seeds(self.docs.values())
        self.k = k
        self.quotes: list[dict[str, Any]] = []  # {"doc", "text", "found"}
        self.opened: list[str] = []

    def actions(self) -> list[dict[str, Any]]:
        s = {"type": "string"}
        return [
            tool("search", "Search the documents; returns ids, titles and snippets.", query=s),
            tool("open", "Read a page (from 1) of a document by id.", doc_id=s,
                 page={"type": "integer", "minimum": 1}),
            tool("quote", "Quote a passage of a document, to cite it; it is checked.", doc_id=s,
                 text=s),
        ]  # fmt: skip

    async def start(self, task: dict[str, Any]) -> Observation:
        if not str(task.get("question", "")).strip():
            raise ValueError("docsearch: a task needs a 'question'")
        self.quotes, self.opened = [], []
        return Observation(clip(f"{task['question']}\n\nSearch the {len(self.docs)} documents."))

    async def act(self, name: str, arguments: dict[str, Any]) -> Observation:
        if name == "search":
            hits = self.index.search(str(arguments.get("query", "")), k=self.k)
            if not hits:
                return Observation("No results.")
            lines = [f"doc{p.seed_id}: {p.title} — {p.text[:200]}" for p in hits]
            return Observation(clip("\n".join(lines)), data={"hits": [p.id for p in hits]})
        doc = self.docs.get(str(arguments.get("doc_id", "")).strip())
        if doc is None:
            known = ", ".join(list(self.docs)[:10])
            return Observation(
                f"Error: no document {arguments.get('doc_id')!r}; ids look like {known}.",
                error=True,
            )
        text = str(doc.payload.get("text") or doc.text)
        doc_id = f"doc{doc.id}"
        if name == "open":
            page = arguments.get("page", 1)
            page = page if isinstance(page, int) and page >= 1 else 1
            pages = max(1, -(-len(text) // PAGE_CHARS))
            chunk = text[(page - 1) * PAGE_CHARS : page * PAGE_CHARS]
            self.opened.append(doc_id)
            title = doc.payload.get("title", "")
            return Observation(
                f"{title} (page {min(page, pages)} of {pages})\n{chunk or '(no such page)'}"
            )
        quoted = " ".join(str(arguments.get("text", "")).split())
        found = bool(quoted) and quoted.lower() in " ".join(text.split()).lower()
        self.quotes.append({"doc": doc_id, "text": quoted[:500], "found": found})
        return Observation("Quote found." if found else "Error: that text is not in the document.",
                           error=not found)  # fmt: skip

    async def judge(self) -> Verdict:
        if self.answer is None:
            return Verdict(False, 0.0, ("no final answer",))
        found = sum(q["found"] for q in self.quotes)
        share = found / len(self.quotes) if self.quotes else 0.0
        gold = self.task.get("answer")
        if gold is not None and str(gold).strip():
            right = (
                answers.matches(self.answer, str(gold)) or str(gold).lower() in self.answer.lower()
            )
            reasons = (
                "the answer matches the gold answer"
                if right
                else "the answer is not the gold answer",
            )
            score = (0.8 if right else 0.0) + 0.2 * share
            return Verdict(right, round(score, 3), reasons, {"quotes_found": found})
        ok = all(q["found"] for q in self.quotes)
        reasons = (f"{found} of {len(self.quotes)} quotes found in the documents",)
        return Verdict(ok and bool(self.answer), round(share, 3), reasons, {"quotes_found": found})

    def save(self) -> Any:
        return {"quotes": self.quotes, "opened": self.opened}

    def load(self, state: Any) -> None:
        self.quotes, self.opened = state["quotes"], state["opened"]

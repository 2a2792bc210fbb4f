"""ReST meets ReAct (METHODS.md #55, Aksitov et al. 2023, arXiv 2312.10003): a search
agent's trajectories, ranked by an LLM, the best one split into per-step SFT rows.

① the search agent (rest_react_agent.py) over the document env: decide → search →
summarize snippets → draft an answer with a quote → self-check relevance → self-check
grounding (the env checks the quote is in the document) → final answer → ② GEN×n such
trajectories per question → ③ a ranker LLM orders them (AI feedback), in rotated orders
against position bias → ④ the best one becomes one SFT row per agent step (the step's
prompt, which holds the trajectory so far → its output), all with one trajectory_id, and
optionally the whole trajectory as tool calls. The ReST loop (fine-tune on these, sample
again, distil into smaller models) is training and happens outside Seedbed: one round.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any

from pydantic import Field

from generation.envs import DocSearchEnv
from generation.recipes import kit
from generation.recipes.base import JudgementDraft, RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt
from generation.recipes.rest_react_agent import SearchAgent, Trajectory, messages_of

RANKER = kit.Role("ranker", "Ranks the trajectories of a question (AI feedback); defaults to "
                  "the policy model.", False, "policy")  # fmt: skip
_RANKING = re.compile(r"^[\s*#]*(?:ranking|best)[\s*]*:\s*(.+)$", re.M | re.I)


class Params(RecipeParams):
    n_trajectories: int = Field(
        3, ge=2, le=8, description="Trajectories the agent samples per question (n)."
    )
    max_searches: int = Field(2, ge=1, le=5, description="Searches per trajectory (at most).")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="For every agent step.")
    step_tokens: int = Field(384, ge=32, le=4096, description="Budget of one agent step.")
    rank_orders: int = Field(
        2, ge=1, le=4, description="Ranker calls, each showing the trajectories in a rotated "
        "order; their rankings are summed (Borda)."
    )  # fmt: skip
    whole_trajectory: bool = Field(
        True, description="Also export the best trajectory whole, as tool calls."
    )
    require_success: bool = Field(
        False, description="Keep the best trajectory only when the env's checker passes it "
        "(gold answer matched, or, without gold, every quote found)."
    )  # fmt: skip


def ranking(text: str, shown: int) -> list[int]:
    """The positions (0-based) of a "Ranking: 2 > 1 > 3" reply, best first, each once."""
    found = _RANKING.search(text)
    order: list[int] = []
    for raw in re.findall(r"\d+", found.group(1) if found else ""):
        k = int(raw) - 1
        if 0 <= k < shown and k not in order:
            order.append(k)
    return order


def borda(rankings: list[list[int]], n: int) -> list[float]:
    """Points per trajectory: n-1 for a first place, n-2 for a second, …; unranked 0."""
    points = [0.0] * n
    for order in rankings:
        for place, k in enumerate(order):
            points[k] += n - 1 - place
    return points


@kit.register
class RestReact(kit.Recipe[Params]):
    meta = kit.Meta(
        "rest_react", "ReST meets ReAct", entry=55, version="1", output="sft+tool_trajectory",
        section="agent_flows", inputs=frozenset({"document", "qa"}), roles=(kit.POLICY, RANKER),
        summary="A search agent answers questions over the project's documents (search, "
        "summarize, draft, self-check relevance and grounding); an LLM ranks its n "
        "trajectories and the best one becomes per-step SFT rows.",
        needs=(kit.Need("RET", "the agent searches the project's documents",
                        "BM25 over the document seeds (no web)"),
               kit.Need("N", "3 trajectories per question", "sampled one after another")),
        yield_per_item=8.0,
    )  # fmt: skip
    steps = (
        Step("GEN", "question", "Without qa seeds: a question a document answers."),
        Step("GEN", "decide", "The agent decides: search (with a query) or answer."),
        Step("ENV", "search", "Search the documents (DocSearchEnv): ids, titles, snippets."),
        Step("GEN", "summarize", "Summarize the snippets that bear on the question."),
        Step("GEN", "draft", "Draft an answer with a supporting quote from a document."),
        Step("ENV", "quote", "The env checks the quoted text is in the document."),
        Step("GEN", "check_relevance", "Self-check: does the answer address the question?"),
        Step("GEN", "check_grounding", "Self-check: is it supported by the notes and the "
             "quote? The revised answer is final (env finish)."),
        Step("JUDGE", "rank", "A ranker LLM orders the n trajectories, in rotated orders."),
        Step("FMT", "steps", "The best trajectory: one SFT row per agent step (its prompt → "
             "its output) sharing a trajectory_id; optionally the whole as tool calls."),
    )  # fmt: skip
    deviations = (
        "Search is BM25 over the project's document seeds (the DocSearchEnv), a local stand-in "
        "for the paper's web search; snippets are passages of those documents.",
        "Questions are the run's qa seeds (their answers kept as gold for review and the env's "
        "checker, never shown to the agent); without qa seeds a question is generated from a "
        "document (the paper uses a fixed compositional QA set).",
        "Prompt wording is ours, as plain text steps rather than the paper's code-like "
        "prompts; the step sequence (decide, search, summarize, answer, relevance and "
        "grounding self-checks, final answer) follows it.",
        "Grounding is also checked by the env: the draft cites a quote, which must be found in "
        "the document; every trajectory searches at least once so there is something to cite.",
        "The ranker sees every trajectory of a question at once, in rotated orders whose "
        "rankings are summed (Borda); the order rotation against position bias is ours.",
        "One round only: ReST's fine-tuning on the best trajectories, the next round of "
        "sampling with the fine-tuned agent and the distillation into smaller models are "
        "training, outside Seedbed; the LLM auto-eval of the paper is not run.",
        "n (3), max_searches (2) and rank_orders (2) are our defaults; the paper does not fix "
        "samples per question as a key constant. The run cycles through the questions.",
    )

    async def setup(self, run: Any) -> None:
        docs = [s for s in run.seeds if s.kind == "document"]
        self.questions = sorted((s for s in run.seeds if s.kind == "qa"), key=lambda s: s.id)
        self.documents = sorted(docs, key=lambda s: s.id)
        # Built once a slice; each item searches a copy (its own quotes and history).
        self.env = DocSearchEnv(self.documents) if self.documents else None
        run.rouge_pool(
            "questions", 0.7, [str(s.payload.get("question", "")) for s in self.questions]
        )

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("rest")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        if self.env is None:
            raise kit.Fatal("ReST meets ReAct needs document seeds for the agent to search.")
        task = await self._task(it)
        made: list[Trajectory] = []
        dropped: Counter[str] = Counter()
        for _ in range(p.n_trajectories):  # one after another: each is a journaled episode
            try:
                made.append(await SearchAgent(it, copy.copy(self.env), task).run())
            except kit.Drop as drop:
                dropped[drop.reason] += 1
        for reason, count in dropped.items():
            it.count(reason, count)
        it.check(bool(made), "no_trajectory", ", ".join(dropped))
        best, judgement = await self._rank(it, task["question"], made)
        chosen = made[best]
        it.check(not p.require_success or chosen.verdict.get("success", False),
                 "best_failed_check", "; ".join(chosen.verdict.get("reasons", [])))  # fmt: skip
        return self._pieces(it, task, chosen, best, len(made), judgement)

    async def _task(self, it: kit.Item[Params]) -> dict[str, Any]:
        if self.questions:
            seed = self.questions[int(it.payload) % len(self.questions)]
            it.use_seeds(seed)
            q = str(seed.payload.get("question", "")).strip()
            return {"question": q, "answer": str(seed.payload.get("answer", ""))}
        doc: SeedRow = self.documents[int(it.payload) % len(self.documents)]
        it.use_seeds(doc)
        made = await it.gen("question", title=doc.payload.get("title", ""),
                            text=str(doc.payload.get("text") or doc.text)[:3000],
                            temperature=it.params.temperature, max_tokens=128)  # fmt: skip
        question = re.sub(r"^[\s*#]*question[\s*]*:\s*", "", made.text.strip(), flags=re.I)
        question = question.strip().splitlines()[0].strip() if question.strip() else ""
        it.check(len(question) >= 8, "no_question", made.text[:200])
        novelty = await it.dedup_l("questions", question)
        it.check(novelty.novel, "duplicate_question", f"ROUGE-L {novelty.score}")
        return {"question": question, "generated_from": f"doc{doc.id}"}

    async def _rank(
        self, it: kit.Item[Params], question: str, made: list[Trajectory]
    ) -> tuple[int, JudgementDraft | None]:
        n = len(made)
        if n == 1:
            it.note("one_trajectory_unranked")
            return 0, None
        rankings, raw, version, model = [], [], "", ""
        for shift in range(it.params.rank_orders):
            shown = [(k + shift) % n for k in range(n)]
            block = "\n\n".join(f"Trajectory {i + 1}:\n{made[k].brief()}"
                                for i, k in enumerate(shown))  # fmt: skip
            reply = await it.gen("rank", role=RANKER.name, question=question, count=n,
                                 trajectories=block, temperature=0.0, max_tokens=256)  # fmt: skip
            raw.append(reply.text)
            version, model = reply.version, reply.model
            order = ranking(reply.text, n)
            if order:
                rankings.append([shown[i] for i in order])
        it.check(bool(rankings), "unranked", raw[-1][:300] if raw else "")
        points = borda(rankings, n)
        best = max(range(n), key=lambda k: (points[k], -k))
        agree = sum(r[0] == best for r in rankings) / len(rankings)
        draft = JudgementDraft(
            model, "rank_trajectories", version, round(points[best] / (len(rankings) * (n - 1)), 3),
            f"Borda points {points}; trajectory {best + 1} ranked first in "
            f"{sum(r[0] == best for r in rankings)} of {len(rankings)} orders",
            "\n---\n".join(raw), agree if len(rankings) > 1 else None,
        )  # fmt: skip
        return best, draft

    def _pieces(
        self,
        it: kit.Item[Params],
        task: dict[str, Any],
        traj: Trajectory,
        best: int,
        of: int,
        judgement: JudgementDraft | None,
    ) -> list[fmt.Piece]:
        tid = f"{it.key}:t{best}"
        gold = {"gold": task["answer"]} if task.get("answer") else {}
        metadata = {"question": task["question"], "trajectory": best, "of": of,
                    "steps": len(traj.steps), **traj.summary()}  # fmt: skip
        judged: dict[str, Any] = (
            {"judgements": [judgement], "judge_score": judgement.score} if judgement else {}
        )
        env = {"name": DocSearchEnv.name, "verdict": traj.verdict, "task": task["question"]}
        pieces = [
            fmt.sft(s.prompt, s.output, suffix=f"s{k}", step=s.kind, **judged,
                    extra={"trajectory_id": tid, **gold, "tags": ["rest_react", s.kind],
                           "metadata": {**metadata, "step": k, "kind": s.kind}})
            for k, s in enumerate(traj.steps)
        ]  # fmt: skip
        if it.params.whole_trajectory:
            assert self.env is not None
            pieces.append(fmt.tool_trajectory(
                messages_of(traj), self.env.tools(), suffix="whole", step="trajectory",
                **judged, extra={"trajectory_id": tid, **gold, "env": env, "tags": ["rest_react"],
                                 "steps": [s.review() for s in traj.steps], "metadata": metadata},
            ))  # fmt: skip
        return pieces

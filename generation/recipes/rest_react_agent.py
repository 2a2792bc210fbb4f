"""ReST meets ReAct's search agent over the document env: one trajectory, step by step.

decide (search or answer) → search → summarize the snippets → … → draft an answer with a
quote → self-check relevance → self-check grounding → finish. Every step is one GEN whose
rendered prompt holds the trajectory so far, so a step exports as an SFT row (prompt →
output) as the paper fine-tunes on; the env answers search, quote and finish.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from generation.envs import DocSearchEnv
from generation.envs.episode import Episode
from generation.recipes import kit

_QUERY = re.compile(r"^[\s*#]*(?:query|search(?:\s+query)?)[\s*]*:[ \t*]*(.+?)[\s*]*$", re.M | re.I)
_LABEL = r"^[\s*#]*{}[\s*]*:[ \t*]*"
_ANSWER = re.compile(_LABEL.format("(?:final\\s+|revised\\s+|draft\\s+)?answer"), re.M | re.I)
_QUOTE = re.compile(_LABEL.format(r"quote(?:\s*\([^)\n]*\))?"), re.M | re.I)
_DOC_LABEL = re.compile(_LABEL.format(r"doc(?:ument)?(?:\s+id)?"), re.M | re.I)
_DOC = re.compile(r"\bdoc\s*(\d+)\b", re.I)
_THOUGHT = re.compile(_LABEL.format("thought"), re.I)
_ANY_LABEL = re.compile(
    r"^[\s*#]*(?:(?:final|draft|revised)\s+)?(?:thought|action|query|answer|quote|doc|summary)"
    r"(?:\s*\([^)\n]*\))?[\s*]*:",
    re.M | re.I,
)


@dataclass(frozen=True)
class AgentStep:
    """One agent step: its template, the prompt it saw, what it wrote, and what it did."""

    kind: str
    prompt: str
    output: str
    thought: str
    action: str
    arguments: dict[str, Any]
    observation: str = ""
    error: bool = False

    def review(self) -> dict[str, Any]:
        """The shared `steps` entry of the trajectory review page."""
        return {
            "thought": self.thought,
            "action": {"name": self.action, "arguments": self.arguments},
            "observation": self.observation,
            "error": self.error,
            "kind": self.kind,
        }


@dataclass
class Trajectory:
    question: str
    steps: list[AgentStep] = field(default_factory=list)
    answer: str = ""
    verdict: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def transcript(self) -> str:
        """The steps so far as the agent's next prompt shows them."""
        lines = []
        for s in self.steps:
            if s.action == "search":
                lines += [f"Search: {s.arguments.get('query', '')}", f"Results:\n{s.observation}"]
            elif s.kind == "summarize":
                lines.append(f"Notes: {s.thought}")
            elif s.kind == "draft":
                lines.append(f"Draft answer: {s.arguments.get('answer', '')}")
                if s.action == "quote":
                    lines.append(f"Quote ({s.arguments['doc_id']}): {s.arguments['text']}")
                    lines.append(f"Quote check: {s.observation}")
            elif s.kind == "check_relevance":
                lines.append(f"After the relevance check: {s.arguments.get('answer', '')}")
        return "\n".join(lines) or "(nothing yet)"

    def brief(self) -> str:
        """What the ranker reads of it: searches, notes, quotes and the final answer."""
        return f"{self.transcript()}\nFinal answer: {self.answer}"

    def summary(self) -> dict[str, Any]:
        return {
            "searches": [s.arguments.get("query", "") for s in self.steps if s.action == "search"],
            "quotes_found": [not s.error for s in self.steps if s.action == "quote"],
            "answer": self.answer,
            "verdict": self.verdict,
        }


def labelled(text: str, label: re.Pattern[str]) -> str:
    """The text after `label` up to the next labelled line ("" without the label)."""
    found = label.search(text)
    if found is None:
        return ""
    rest = text[found.end() :]
    following = _ANY_LABEL.search(rest)
    return (rest[: following.start()] if following else rest).strip().strip('"“”').strip()


def thought_of(text: str) -> str:
    """The step's reasoning: the text before its first labelled line other than Thought."""
    head = _THOUGHT.sub("", text.strip())
    following = _ANY_LABEL.search(head)
    return (head[: following.start()] if following else head).strip()


def decision(text: str) -> str | None:
    """The query of a search decision; None when the agent decides to answer."""
    query = _QUERY.search(text)
    if query and query.group(1).strip().strip('"').strip():
        return query.group(1).strip().strip('"').strip()
    action = re.search(r"^[\s*#]*action[\s*]*:\s*(.+)$", text, re.M | re.I)
    if action and "answer" in action.group(1).lower():
        return None
    return ""  # neither: the caller searches with the question itself


def draft(text: str) -> tuple[str, str, str]:
    """(answer, doc id, quote) of a draft; the answer is the first line when unlabelled."""
    answer = labelled(text, _ANSWER)
    if not answer:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        answer = lines[0] if lines and not _ANY_LABEL.match(lines[0]) else ""
    quote = labelled(text, _QUOTE)
    at = _QUOTE.search(text)
    doc = _DOC.search(labelled(text, _DOC_LABEL)) or _DOC.search(text[at.start() if at else 0 :])
    return answer, f"doc{doc.group(1)}" if doc else "", quote


class SearchAgent:
    """Runs one trajectory of the agent in a fresh episode of the document env."""

    def __init__(self, it: kit.Item[Any], env: DocSearchEnv, task: dict[str, Any]) -> None:
        self.it, self.env, self.task = it, env, task
        self.p = it.params

    async def _gen(self, kind: str, traj: Trajectory, **values: Any) -> tuple[str, str]:
        values = {"question": traj.question, "transcript": traj.transcript(), **values}
        prompt = self.it.host.prompts[kind].render(**{k: str(v) for k, v in values.items()})
        made = await self.it.gen(kind, temperature=self.p.temperature,
                                 max_tokens=self.p.step_tokens, **values)  # fmt: skip
        self.it.check(bool(made.text.strip()) and not made.truncated, "malformed_step", kind)
        return prompt, made.text.strip()

    async def run(self) -> Trajectory:
        episode = await self.it.env(self.env, self.task)
        traj = Trajectory(self.task["question"])
        last_hit = ""
        for n in range(self.p.max_searches):
            prompt, out = await self._gen("decide", traj, searches_left=self.p.max_searches - n)
            query = decision(out)
            if query is None and n > 0:
                traj.steps.append(AgentStep("decide", prompt, out, thought_of(out), "answer", {}))
                break
            query = query or traj.question  # an unreadable decision searches the question
            obs = await episode.step("search", {"query": query})
            hits = (obs.data or {}).get("hits") or []
            last_hit = last_hit or (f"doc{hits[0].split(':')[1].split('#')[0]}" if hits else "")
            traj.steps.append(AgentStep("decide", prompt, out, thought_of(out), "search",
                                        {"query": query}, obs.text, obs.error))  # fmt: skip
            prompt, out = await self._gen("summarize", traj, results=obs.text)
            notes = re.sub(r"^[\s*#]*(?:summary|notes)[\s*]*:\s*", "", out, flags=re.I).strip()
            traj.steps.append(AgentStep("summarize", prompt, out, notes, "summarize", {}))
        await self._answer(episode, traj, last_hit)
        return traj

    async def _answer(self, episode: Episode, traj: Trajectory, last_hit: str) -> None:
        prompt, out = await self._gen("draft", traj)
        answer, doc_id, quote = draft(out)
        self.it.check(bool(answer), "no_draft_answer", out[:200])
        if quote:
            args = {"answer": answer, "doc_id": doc_id or last_hit, "text": quote}
            obs = await episode.step("quote", {"doc_id": args["doc_id"], "text": quote})
            traj.steps.append(AgentStep("draft", prompt, out, thought_of(out), "quote", args,
                                        obs.text, obs.error))  # fmt: skip
        else:
            traj.steps.append(AgentStep("draft", prompt, out, thought_of(out), "draft",
                                        {"answer": answer}))  # fmt: skip
        for kind, action in (("check_relevance", "revise"), ("check_grounding", "finish")):
            prompt, out = await self._gen(kind, traj, draft=answer)
            answer = labelled(out, _ANSWER) or answer  # no verdict: the draft stands
            if action == "finish":
                obs = await episode.step("finish", {"answer": answer})
                traj.steps.append(AgentStep(kind, prompt, out, thought_of(out), action,
                                            {"answer": answer}, obs.text, obs.error))  # fmt: skip
            else:
                traj.steps.append(AgentStep(kind, prompt, out, thought_of(out), action,
                                            {"answer": answer}))  # fmt: skip
        traj.answer = answer
        traj.verdict = (await episode.check()).to_json()


def messages_of(traj: Trajectory) -> list[dict[str, Any]]:
    """The whole trajectory as OpenAI messages: env actions as tool calls with their
    results, the agent's other steps as the content before the next call."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": traj.question}]
    pending: list[str] = []
    for k, s in enumerate(traj.steps):
        if s.thought:
            pending.append(s.thought)
        if s.action in ("search", "quote"):
            args = {"query": s.arguments["query"]} if s.action == "search" else {
                "doc_id": s.arguments["doc_id"], "text": s.arguments["text"]}  # fmt: skip
            call = {"id": f"call_{k}", "type": "function", "function": {
                "name": s.action, "arguments": json.dumps(args, ensure_ascii=False)}}  # fmt: skip
            messages.append(
                {"role": "assistant", "content": "\n".join(pending) or None, "tool_calls": [call]}
            )
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": s.observation})
            pending = []
    messages.append({"role": "assistant", "content": traj.answer})
    return messages

"""`LLMClient`: chat (generation/llm/chat.py), text completions, embeddings, the logprobs of a
given text, and raw requests for capability probes. One client per endpoint and event loop."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from generation.llm.chat import ChatCalls, gather, sampling
from generation.llm.errors import NO_PLP, CapabilityError, PermanentLLMError
from generation.llm.records import Call, Completion
from generation.llm_parse import parse_embeddings, parse_models, parse_text, whole
from generation.llm_score import (
    Matched,
    NotAligned,
    ScoreMethod,
    TextScore,
    parse_echo,
    parse_prompt_logprobs,
    summarise,
)

Route = Literal["chat", "completions", "embeddings"]
EMBED_BATCH = 256
ROUTES: dict[Route, str] = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "embeddings": "/embeddings",
}
# What a server answers when it does not know an option or a route.
_UNSUPPORTED_STATUS = frozenset({400, 404, 405, 422})


class LLMClient(ChatCalls):
    async def complete_text(
        self,
        prompt: str,
        *,
        purpose: str = "generate",
        n: int = 1,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        presence_penalty: float | None = None,
        seed: int | None = None,
        model: str | None = None,
    ) -> Completion:
        """A plain text completion (`/v1/completions`), as GPT-3-era recipes were written.

        Not every server has it (OpenAI's chat models do not): a 404/400 is a
        PermanentLLMError, and the caller can fall back to `complete()`.
        """
        call = Call(model or self.config.model)
        body = {
            "model": call.model,
            "prompt": prompt,
            **sampling(
                temperature=temperature,
                top_p=top_p,
                max_tokens=max_tokens,
                stop=stop,
                presence_penalty=presence_penalty,
                seed=seed,
                n=n if n > 1 else None,
            ),
        }
        started = time.perf_counter()
        estimate = len(prompt) // 4 + 1 + int(max_tokens or 0) * n
        try:
            choices = await self._request(call, ROUTES["completions"], body, parse_text, estimate)
        except BaseException as exc:
            self._record(call, purpose, started, exc)
            raise
        return self._completion(call, purpose, started, choices, None, None)

    async def embed(
        self, texts: list[str], *, model: str | None = None, purpose: str = "embed"
    ) -> list[list[float]]:
        if not texts:
            return []
        call = Call(model or self.config.model)
        started = time.perf_counter()
        batches = [texts[i : i + EMBED_BATCH] for i in range(0, len(texts), EMBED_BATCH)]
        try:
            results = await gather(self._embed_batch(call, batch) for batch in batches)
        except BaseException as exc:
            self._record(call, purpose, started, exc)
            raise
        self._record(call, purpose, started, None)
        return [vector for batch in results for vector in batch]

    async def _embed_batch(self, call: Call, batch: list[str]) -> list[list[float]]:
        body = {"model": call.model, "input": batch, "encoding_format": "float"}

        def parse(data: dict[str, Any]) -> list[list[float]]:
            return parse_embeddings(data, len(batch))

        estimate = sum(len(t) for t in batch) // 4 + 1
        return await self._request(call, ROUTES["embeddings"], body, parse, estimate)

    async def score_text(
        self,
        prompt: str,
        continuation: str = "",
        *,
        purpose: str = "score",
        model: str | None = None,
    ) -> TextScore:
        """The logprob of each token of `prompt + continuation` as the model reads it, summed
        over the continuation (over the whole text when there is none): METHODS.md's PLP.

        Asked of `/v1/completions` with `echo` first, then with vLLM's `prompt_logprobs`; the
        way that works is remembered. A server with neither (llama.cpp, OpenAI's chat models)
        raises CapabilityError, here and on every later call of this client.
        """
        text = prompt + continuation
        if not text:
            raise ValueError("there is no text to score")
        if not self.supports_score:
            raise CapabilityError(f"{NO_PLP}, as an earlier call found")
        call = Call(model or self.config.model)
        started = time.perf_counter()
        try:
            found = await self._score(call, prompt, text)
        except BaseException as exc:
            self._record(call, purpose, started, exc)
            raise
        total, mean, count = summarise(found)
        cost, latency_ms = self._record(call, purpose, started, None)
        return TextScore(
            tokens=found.tokens,
            continuation_start=found.continuation_start,
            sum_logprob=total,
            mean_logprob=mean,
            count=count,
            method=found.method,
            model=call.served_model or call.model,
            tokens_in=call.tokens_in,
            cost=cost,
            latency_ms=latency_ms,
        )

    async def _score(self, call: Call, prompt: str, text: str) -> Matched:
        known = self.score_method
        refusals = []
        for method in (known,) if known else ("echo", "prompt_logprobs"):
            try:
                found = await self._score_once(call, method, prompt, text)
            except PermanentLLMError as exc:
                if known or exc.status_code not in _UNSUPPORTED_STATUS:
                    raise
                refusals.append(f"{method}: {exc}")
                continue
            except NotAligned as exc:  # the server scores prompts, just not this one legibly
                self.score_method = method
                raise PermanentLLMError(f"cannot score this text: {exc}") from exc
            if found is not None:
                self.score_method = method
                return found
            refusals.append(f"{method}: the reply has no logprobs of the prompt")
        if known:
            raise PermanentLLMError(f"{known} scoring stopped working: {refusals[0]}")
        self.supports_score = False
        raise CapabilityError(f"{NO_PLP}; tried {'; '.join(refusals)}")

    async def _score_once(
        self, call: Call, method: ScoreMethod, prompt: str, text: str
    ) -> Matched | None:
        options: dict[str, Any] = (
            {"echo": True, "logprobs": 1}
            if method == "echo"
            else {"prompt_logprobs": 0}  # vLLM: 0 = the prompt token alone
        )
        body = {"model": call.model, "prompt": text, "max_tokens": 1, "temperature": 0.0}
        parse = parse_echo if method == "echo" else parse_prompt_logprobs
        continuation = text[len(prompt) :]
        return await self._request(
            call,
            ROUTES["completions"],
            {**body, **options},
            lambda data: parse(data, prompt, continuation),
            len(text) // 4 + 2,
        )

    async def request(
        self,
        route: Route,
        body: dict[str, Any],
        *,
        purpose: str = "probe",
        max_retries: int | None = None,
    ) -> dict[str, Any]:
        """One request with `body` as given (the model defaults to the endpoint's) and the
        reply's JSON as it came: for capability probes and options this module does not model.
        Limits, accounting and typed errors as for every call."""
        call = Call(str(body.get("model") or self.config.model))
        payload = {**body, "model": call.model}
        estimate = len(json.dumps(payload)) // 4 + 1 + int(body.get("max_tokens") or 0)
        started = time.perf_counter()
        try:
            data = await self._request(call, ROUTES[route], payload, whole, estimate, max_retries)
        except BaseException as exc:
            self._record(call, purpose, started, exc)
            raise
        self._record(call, purpose, started, None)
        return data

    async def list_models(self, *, max_retries: int | None = None) -> list[str]:
        """The model ids `/models` lists. Not recorded: it uses no tokens."""
        return await self._request(Call(""), "/models", None, parse_models, 0, max_retries)

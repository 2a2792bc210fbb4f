"""The scoring steps of an Item: PLP (it.score_text), JUDGE (it.judge), PAIRJ (it.pairj).

A mixin of Item (kit/item.py): each is a journaled step like the others, through the
Item's `_step` and `_call`.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from generation.llm import NO_PLP, CapabilityError
from generation.recipes.kit.calls import OPTIONS, call_record
from generation.recipes.kit.parse import choice_label, choice_soft_label, parse_score
from generation.recipes.kit.results import Gen, Judged, PairVerdict, TextScored

if TYPE_CHECKING:
    from generation.recipes.kit.item import Host

V = TypeVar("V")


class ScoringSteps:
    host: Host

    if TYPE_CHECKING:  # provided by Item

        async def _step(
            self,
            op: str,
            compute: Callable[[], Awaitable[V]],
            encode: Callable[[V], Any],
            decode: Callable[[Any], V],
        ) -> V: ...

        async def _call(
            self,
            template: str | None,
            messages: list[dict[str, Any]] | None,
            role: str,
            n: int,
            api: str,
            system: str | None,
            options: dict[str, Any],
            values: dict[str, Any],
            op: str = "gen",
        ) -> Gen: ...

        def _kit(self, name: str) -> list[str]: ...
        def _step_calls(self) -> list[dict[str, Any]]: ...

    async def score_text(
        self, text: str, continuation: str | None = None, *, role: str = "policy"
    ) -> TextScored:
        """PLP: the logprobs of `text` as `role`'s model reads it (of `continuation` after it,
        when given). An endpoint that cannot score a given text raises CapabilityError
        (generation/llm.py); the run remembers it, and later items are refused without a call."""

        async def compute() -> TextScored:
            client, model, endpoint = self.host.client(role)
            unable = self._kit("no_plp")
            if endpoint in unable:
                raise CapabilityError(f"{NO_PLP}, as an earlier item found")
            try:
                got = await client.score_text(text, continuation or "", model=model)
            except CapabilityError:
                kit = self.host.state.setdefault("kit", {})
                kit["no_plp"] = [*unable, endpoint]  # replaced, never edited: flushes copy it
                raise
            self._step_calls().append(
                call_record("score", role, got.model, "", "", got.tokens_in, 0)
            )
            return TextScored(got.mean_logprob, got.count, got.sum_logprob, got.method, got.model)

        return await self._step("score", compute, TextScored.to_json, TextScored.from_json)

    async def judge(
        self,
        template: str,
        *,
        role: str = "judge",
        samples: int = 1,
        maximum: float = 5.0,
        parse: Callable[[str, float], float | None] = parse_score,
        **values: Any,
    ) -> Judged:
        """JUDGE: `samples` judgements averaged over those that parse; none parse → None.
        The result's confidence is 1 − their spread on the 0-`maximum` scale."""
        options = {k: values.pop(k) for k in list(values) if k in OPTIONS}
        options.setdefault("max_tokens", 512)
        if samples == 1:
            options.setdefault("temperature", 0.0)

        async def compute() -> Judged:
            got = await self._call(
                template, None, role, samples, "chat", None, options, values, "judge"
            )
            scores = [s for s in (parse(t, maximum) for t in got.texts) if s is not None]
            return Judged(
                score=statistics.fmean(scores) if scores else None,
                scores=scores,
                raw=got.texts,
                rubric=template,
                version=got.version,
                model=got.model,
                maximum=maximum,
            )

        return await self._step("judge", compute, Judged.to_json, Judged.from_json)

    async def pairj(
        self,
        template: str,
        a: str,
        b: str,
        *,
        swap: bool = True,
        role: str = "judge",
        logprobs: bool = False,
        **values: Any,
    ) -> PairVerdict:
        """PAIRJ: A vs B, and B vs A when swap, to cancel position bias; p(A) averaged.

        With logprobs the label is p(A) from the first answer token (soft), else the
        letter in the reply (hard). An order whose reply does not parse is left out.
        """
        options = {k: values.pop(k) for k in list(values) if k in OPTIONS}
        options.setdefault("temperature", 0.0)
        if logprobs:
            options.update(logprobs=True, top_logprobs=5)

        async def ask(first: str, second: str) -> tuple[float | None, str, str, Gen]:
            got = await self._call(
                template,
                None,
                role,
                1,
                "chat",
                None,
                dict(options),
                {**values, "response_a": first, "response_b": second},
                "pairj",
            )
            soft = choice_soft_label(got.first_tokens[0]) if got.first_tokens else None
            p = soft if soft is not None else choice_label(got.text)
            return p, got.text, "logprobs" if soft is not None else "text", got

        async def compute() -> PairVerdict:
            asked = [ask(a, b), ask(b, a)] if swap else [ask(a, b)]
            results = await asyncio.gather(*asked)
            orders = [results[0][0]] + (
                [None if results[1][0] is None else 1.0 - results[1][0]] if swap else []
            )
            known = [p for p in orders if p is not None]
            return PairVerdict(
                p_a=statistics.fmean(known) if known else None,
                orders=orders,
                raw=[r[1] for r in results],
                label_source="logprobs" if all(r[2] == "logprobs" for r in results) else "text",
                version=results[0][3].version,
                model=results[0][3].model,
            )

        return await self._step("pairj", compute, PairVerdict.to_json, PairVerdict.from_json)

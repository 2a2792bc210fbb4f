"""What every Item of a slice talks to (the kit's Host): role clients, seeds, pools, time.

Mixed into the Driver, which holds the state these read (generation/runs/driver.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.conf import settings

from curation.projects.models import ModelEndpoint
from curation.projects.services import endpoint_config
from generation.limits import endpoint_limits
from generation.llm import CallRecord, LLMClient, LLMError
from generation.recipes.base import SeedRow
from generation.recipes.kit.pools import EmbeddingPool, RougePool


class SliceHost:
    role_map: dict[str, int]
    _endpoints: dict[int, ModelEndpoint]
    _clients: dict[int, LLMClient]
    _seeds_by_id: dict[int, SeedRow]
    pools: dict[str, RougePool | EmbeddingPool]
    target: int
    produced: int
    _pending_samples: int
    deadline: float
    fatal_error: str
    _consecutive_failures: int
    _successes: int

    def _record_call(self, record: CallRecord) -> None:
        raise NotImplementedError

    def client(self, role: str) -> tuple[LLMClient, str, str]:
        endpoint_id = self.role_map.get(role) or self.role_map["policy"]
        endpoint = self._endpoints[endpoint_id]
        if endpoint_id not in self._clients:
            client = LLMClient(
                endpoint_config(endpoint),
                recorder=self._record_call,
                limits=endpoint_limits(endpoint),  # held across every worker (generation/limits)
            )
            if (endpoint.capabilities or {}).get("tools") is False:
                client.tools_mode = "prompt"  # "Test connection" found no native tools
            self._clients[endpoint_id] = client
        return self._clients[endpoint_id], self._model(role, endpoint), f"e{endpoint_id}"

    def _model(self, role: str, endpoint: ModelEndpoint) -> str:
        """A judging role (judge, meta_judge, …) uses the endpoint's judge model if it has one."""
        if (role == "judge" or role.endswith("_judge")) and endpoint.judge_model:
            return endpoint.judge_model
        return endpoint.chat_model

    def model_for(self, role: str) -> str:
        endpoint_id = self.role_map.get(role) or self.role_map["policy"]
        return self._model(role, self._endpoints[endpoint_id])

    def seed(self, seed_id: int) -> SeedRow:
        return self._seeds_by_id[seed_id]

    def rouge_pool(
        self, name: str, threshold: float, seeds: Iterable[str] = (), k: int = 10
    ) -> RougePool:
        pool = RougePool(name, threshold, k)
        pool.seed(seeds)
        self.pools[name] = pool
        return pool

    async def embedding_pool(
        self, name: str, threshold: float, keys: list[str], texts: list[str]
    ) -> EmbeddingPool:
        pool = EmbeddingPool(name, threshold)
        await pool.seed(keys, texts)
        self.pools[name] = pool
        return pool

    def remaining(self) -> int:
        """Samples still wanted, counting those finished but not yet committed."""
        return max(0, self.target - self.produced - self._pending_samples)

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    # Steps of this slice's items running now (kit/item.py counts them).
    active_steps = 0

    def stop_at_step(self) -> bool:
        """Past the slice's end, an item stops before its next step (the kit parks it) and
        resumes there next slice, so no call is started only to be cut off."""
        return self.time_left() <= 0

    @property
    def grace_seconds(self) -> float:
        return float(getattr(settings, "SEEDBED_RUN_GRACE_SECONDS", 120))

    def note_failure(self, exc: LLMError) -> None:
        self._consecutive_failures += 1
        limit = int(getattr(settings, "SEEDBED_RUN_MAX_CONSECUTIVE_FAILURES", 8))
        if self._consecutive_failures >= limit and self._successes == 0:
            self.fatal_error = (
                f"The endpoint failed {self._consecutive_failures} times in a row "
                f"with no success; last error: {exc}"
            )

    def note_success(self) -> None:
        self._consecutive_failures = 0
        self._successes += 1

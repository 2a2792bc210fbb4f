"""The typed errors every caller of `generation.llm` handles, and what a refusal says about `n`."""

from __future__ import annotations

import re

NO_PLP = "this endpoint does not return logprobs of a given text (PLP)"


class LLMError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryableLLMError(LLMError):
    """429, 5xx, timeouts, connection errors, malformed replies: retries ran out (or the server
    asked for a longer pause than we wait in-process). Worth another try later."""


class PermanentLLMError(LLMError):
    """Bad requests, auth failures, unknown models: retrying will not help."""


class StructuredOutputError(PermanentLLMError):
    """The output still did not match the schema after the one repair attempt."""


class CapabilityError(PermanentLLMError):
    """The endpoint does not do what was asked (a METHODS.md §0.2 need), whatever we retry."""


# "Field 'n': Value must be between 1 <= value <= 4", "'n' must be less than or equal to
# 128": the field named n, then its bound, with no other field named in between.
_N_LIMIT = re.compile(
    r"""(?:['"`]n['"`]|\bn\s*:)[^\n,;]{0,60}?(?:<=|≤|at most|no more than|"""
    r"""less than or equal to)\s*(\d+)""",
    re.IGNORECASE,
)


def n_limit(message: str) -> int | None:
    """The largest `n` a server's refusal names ("Field 'n': ... 1 <= value <= 4"), or None."""
    found = _N_LIMIT.search(message)
    return int(found.group(1)) if found else None


ERROR_TEXT_LIMIT = 300


def clip(text: str) -> str:
    """`text` on one line, cut to ERROR_TEXT_LIMIT characters: for error messages."""
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 1] + "…"

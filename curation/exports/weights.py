"""What SFT rows tell a trainer to learn from: a loss mask per message, a weight per row.

- `loss_mask` (openai, sharegpt; default "none"): with "assistant", every message of a row
  carries `"weight": 1` when it is an assistant turn and `"weight": 0` otherwise (system,
  user, tool), so a trainer learns the assistant turns only. This is the per-turn `weight`
  of axolotl's ShareGPT-style datasets (and what its chat_template reads with
  `message_field_training: weight`); a trainer that does not know the key ignores it.
- `sample_weight` (openai, sharegpt, alpaca; default on): when any selected sample carries
  a training weight in `extra["weight"]` (SPAG's advantage-weighted rows), every row gets a
  `weight` column, 1.0 for samples without one, so the column is never half there. A weight
  that is not a finite number leaves its sample out (counted as `weight_not_a_number`).

Pure functions on rows, plus the one query that decides whether the column is needed.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from django.db.models import QuerySet

from curation.exports.formats import Row
from curation.samples.models import Sample

LossMask = Literal["none", "assistant"]
LOSS_MASKS: tuple[str, ...] = ("none", "assistant")
MASKED_FORMATS = ("openai", "sharegpt")
WEIGHTED_FORMATS = ("openai", "sharegpt", "alpaca")
KEY = "weight"  # the extra key recipes store a row's weight under, and the column's name
BAD_WEIGHT = "weight_not_a_number"
LEARNED = {"assistant", "gpt", "function_call"}  # the roles a mask keeps (OpenAI, ShareGPT)


def mask_of(options: dict[str, Any] | None) -> str:
    """The option of a version; versions made before it existed have no mask."""
    mask = (options or {}).get("loss_mask", "none")
    return mask if mask in LOSS_MASKS else "none"


def masked(fmt: str, row: Row) -> Row:
    """The row with a 0/1 `weight` on each message (a new row; the input is left alone)."""
    key = "messages" if fmt == "openai" else "conversations"
    # An assistant turn a recipe already marked weight 0 (a GPT4Tools context sample's
    # earlier steps) stays 0: it is context, not a target.
    turns = [
        {**t, KEY: 1 if t.get("role", t.get("from")) in LEARNED and t.get(KEY) != 0 else 0}
        for t in row.get(key, [])
    ]
    return {**row, key: turns}


def wanted(fmt: str, options: dict[str, Any] | None) -> bool:
    return fmt in WEIGHTED_FORMATS and bool((options or {}).get("sample_weight", True))


def weighted_samples(qs: QuerySet[Sample]) -> int:
    """How many of the selected samples carry a weight (one scan of the selection)."""
    return qs.filter(extra__has_key=KEY).count()


def needs_column(qs: QuerySet[Sample], fmt: str, options: dict[str, Any] | None) -> bool:
    return wanted(fmt, options) and qs.filter(extra__has_key=KEY).exists()


def weight_of(extra: dict[str, Any]) -> float | str:
    """A sample's weight (1.0 when it has none), or the skip reason for a bad one."""
    value = extra.get(KEY, 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return BAD_WEIGHT
    return float(value)


def with_weight(row: Row, weight: float) -> Row:
    return {**row, KEY: weight}


def strip_mask(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Imported messages without the loss-mask key: it is an export option, not content."""
    return [{k: v for k, v in m.items() if k != KEY} for m in messages]

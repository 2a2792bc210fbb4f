"""What the lineage panels show of a sample's `extra`: the keys recipes share for review.

Recipes store `rationale`, `vote`, `tags`, `metadata`, `gold`, `rationalized` and (Orca 2)
`erased_system_prompt`. Model output and recipe data are untrusted in shape as in content:
a value of the wrong type is left out rather than shown half-read, and every string goes
to the template as plain text (auto-escaped there, never marked safe).
"""

from __future__ import annotations

import json
from typing import Any

MAX_TAGS = 50
MAX_METADATA = 40
MAX_VALUE = 2000  # characters of one metadata value


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _percent(share: float) -> str:
    return f"{share * 100:.1f}".rstrip("0").rstrip(".")


def vote(raw: Any) -> dict[str, Any] | None:
    """answer, count, of, share, percent and the line: "20 of 32 paths agree: 42 (62.5 %)"."""
    if not isinstance(raw, dict):
        return None
    answer = _text(raw.get("answer"))
    count, of = _count(raw.get("count")), _count(raw.get("of"))
    share = raw.get("share")
    if count is not None and of and count <= of:
        share = count / of
    elif isinstance(share, int | float) and not isinstance(share, bool):
        share = float(share) / 100 if 1 < share <= 100 else float(share)
        if not 0 <= share <= 1:
            share = None
    else:
        share = None
    if answer is None and share is None:
        return None
    parts = []
    if count is not None and of:
        parts.append(f"{count} of {of} paths agree")
    else:
        parts.append("Majority answer")
    text = parts[0] + (f": {answer}" if answer is not None else "")
    percent = _percent(share) if share is not None else None
    if percent is not None:
        text += f" ({percent} %)"
    return {
        "answer": answer,
        "count": count,
        "of": of,
        "share": share,
        "percent": percent,
        "text": text,
    }


def tags(extra_tags: Any, column: list[str] | None = None) -> list[str]:
    """The recipe's tags, then the sample's own tag column, each once."""
    out: list[str] = []
    values = list(extra_tags) if isinstance(extra_tags, list) else []
    for value in [*values, *(column or [])]:
        text = (_text(value) or "").strip()
        if text and text not in out:
            out.append(text)
        if len(out) >= MAX_TAGS:
            break
    return out


def _shown(value: Any) -> str:
    text = _text(value)
    if text is None:
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, list) and all(_text(v) is not None for v in value):
            text = ", ".join(str(v) for v in value)
        else:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def metadata(raw: Any) -> list[tuple[str, str]]:
    """(key, value as text) pairs by key (Postgres keeps no key order in JSON); nested values
    as JSON."""
    if not isinstance(raw, dict):
        return []
    pairs = sorted(((str(k)[:100], v) for k, v in raw.items()), key=lambda kv: kv[0])
    return [(k, _shown(v)) for k, v in pairs[:MAX_METADATA]]


def lineage_extra(extra: Any, column_tags: list[str] | None = None) -> dict[str, Any]:
    """The review fields of a sample's extra; each is None (or empty) when absent or unusable."""
    x = extra if isinstance(extra, dict) else {}
    rationalized = x.get("rationalized")
    out = {
        "rationale": _text(x.get("rationale")),
        "vote": vote(x.get("vote")),
        "tags": tags(x.get("tags"), column_tags),
        "metadata": metadata(x.get("metadata")),
        "gold": _text(x.get("gold")),
        "rationalized": rationalized if isinstance(rationalized, bool) else None,
        "erased_system_prompt": _text(x.get("erased_system_prompt")),
    }
    out["any"] = any(v not in (None, [], ()) for v in out.values())
    return out

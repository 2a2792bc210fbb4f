"""SAMPLE an attribute combination per item, so a run's items follow a requested mix.

Attribute-guided generation (DataGen #28, DataDreamer's attributed prompts) conditions each
item on one value per attribute: "topic: sports, cooking; difficulty: easy=3, hard=1" asks
for sports and cooking equally often and three easy items for every hard one. A value
without a weight weighs 1.

Two ways to pick, both deterministic, so a replayed item takes the same path:

- `spread(attributes, index)` for numbered items: item k takes, per attribute, the value
  under frac(offset + k·α), with α the fractional part of √p for a prime p of its own (a
  Weyl sequence). Any run of consecutive items then matches the mix within about one item,
  not merely on average, and the attributes are jointly spread (1, √2, √3, … are linearly
  independent over the rationals), so combinations follow the product of the mixes.
- `draw(attributes, rng)`: independent draws by weight from a random.Random (it.rng).

`await sample(it, attributes)` picks for an Item (by index for numbered items, else from a
generator seeded by run and key) and journals the combination as a SAMPLE step, so an item
resumed after its attribute set changed keeps the combination its earlier steps used.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53)
_WEIGHT = re.compile(r"^(?P<value>.*?)\s*=\s*(?P<weight>\d+(?:\.\d+)?|\.\d+)\s*%?$")


@dataclass(frozen=True)
class Attribute:
    """One attribute: its values and their shares (normalised to sum to 1)."""

    name: str
    values: tuple[str, ...]
    shares: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("an attribute needs a name")
        if not self.values or len(self.values) != len(self.shares):
            raise ValueError(f"attribute {self.name!r} needs values, one share each")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"attribute {self.name!r} repeats a value")
        if any(s < 0 for s in self.shares) or not math.isclose(sum(self.shares), 1.0):
            raise ValueError(f"attribute {self.name!r}: shares must be ≥ 0 and sum to 1")

    @classmethod
    def weighted(cls, name: str, weights: Mapping[str, float] | Sequence[str]) -> Attribute:
        """From values (equal shares) or a value → weight mapping (any positive scale)."""
        pairs = (
            list(weights.items()) if isinstance(weights, Mapping) else [(v, 1.0) for v in weights]
        )
        total = sum(float(w) for _, w in pairs)
        if total <= 0:
            raise ValueError(f"attribute {name!r}: weights must add up to more than 0")
        return cls(
            name.strip(),
            tuple(str(v).strip() for v, _ in pairs),
            tuple(float(w) / total for _, w in pairs),
        )

    def pick(self, u: float) -> str:
        """The value under u ∈ [0, 1) on the cumulative shares."""
        edges = list(_cumulative(self.shares))
        return self.values[min(bisect.bisect_right(edges, u), len(self.values) - 1)]


def parse(spec: str) -> list[Attribute]:
    """ "name: a, b=2; other: x, y" (or one attribute per line) → attributes.

    Raises ValueError with a message for the run form when the text does not read.
    """
    out: list[Attribute] = []
    for part in re.split(r"[;\n]", spec):
        if not part.strip():
            continue
        name, sep, rest = part.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"{part.strip()!r}: write an attribute as 'name: value, value'")
        weights: dict[str, float] = {}
        for raw in rest.split(","):
            if not raw.strip():
                continue
            m = _WEIGHT.match(raw.strip())
            value, weight = (m["value"], float(m["weight"])) if m else (raw.strip(), 1.0)
            if not value.strip():
                raise ValueError(f"attribute {name.strip()!r} has a weight without a value")
            weights[value.strip()] = weights.get(value.strip(), 0.0) + weight
        if not weights:
            raise ValueError(f"attribute {name.strip()!r} has no values")
        out.append(Attribute.weighted(name, weights))
    names = [a.name for a in out]
    if len(set(names)) != len(names):
        raise ValueError("an attribute is named twice")
    return out


def show(attributes: Sequence[Attribute]) -> str:
    """The spec `parse` reads back (weights as percentages)."""
    return "; ".join(
        f"{a.name}: "
        + ", ".join(f"{v}={round(s * 100, 2):g}" for v, s in zip(a.values, a.shares, strict=True))
        for a in attributes
    )


def to_json(attributes: Sequence[Attribute]) -> list[dict[str, Any]]:
    return [
        {"name": a.name, "values": list(a.values), "shares": list(a.shares)} for a in attributes
    ]


def from_json(data: Sequence[Mapping[str, Any]]) -> list[Attribute]:
    return [Attribute(d["name"], tuple(d["values"]), tuple(d["shares"])) for d in data]


def spread(attributes: Sequence[Attribute], index: int, salt: str = "") -> dict[str, str]:
    """Item `index`'s combination: low-discrepancy, so every prefix of items follows the mix."""
    out = {}
    for j, a in enumerate(attributes):
        alpha = math.sqrt(_PRIMES[j % len(_PRIMES)]) % 1.0
        alpha += j // len(_PRIMES) * 1e-3  # beyond 16 attributes, still distinct steps
        out[a.name] = a.pick((_offset(f"{salt}:{a.name}") + index * alpha) % 1.0)
    return out


def draw(attributes: Sequence[Attribute], rng: random.Random) -> dict[str, str]:
    """Independent draws by weight."""
    return {a.name: a.pick(rng.random()) for a in attributes}


async def sample(it: Any, attributes: Sequence[Attribute]) -> dict[str, str]:
    """SAMPLE for an Item: by index for numbered items, else seeded by run and key; the
    combination is journaled (an item that resumes keeps the one its steps so far used)."""
    salt = str(it.host.run_id)
    if isinstance(it.payload, int) and not isinstance(it.payload, bool):
        combination = spread(attributes, it.payload, salt)
    else:
        combination = draw(attributes, random.Random(f"{salt}:{it.key}:attributes"))
    # Wrapped, so that no attribute name can read as a journaled seed reference.
    (kept,) = await it.sample([{"attributes": combination}], 1)
    # In the attributes' order: a journal read back from the database may have lost it.
    order = {a.name: i for i, a in enumerate(attributes)}
    return dict(sorted(kept["attributes"].items(), key=lambda kv: order.get(kv[0], len(order))))


def describe(combination: Mapping[str, str]) -> str:
    """One "- name: value" line per attribute, for a prompt."""
    return "\n".join(f"- {name}: {value}" for name, value in combination.items())


def _cumulative(shares: Sequence[float]) -> list[float]:
    edges, total = [], 0.0
    for share in shares:
        total += share
        edges.append(total)
    return edges


def _offset(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / float(16**12)

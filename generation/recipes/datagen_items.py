"""DataGen's items as text: the form each output kind is written in, read back leniently.

An item is written as labelled sections ("Question: …", "Solution: …", "Answer: …"); a
label may be numbered, bulleted or bold (small models decorate), and a section runs to the
next label. Seeds become examples in the same form, whatever their kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generation.recipes.base import SeedRow
from generation.recipes.kit import answers
from generation.recipes.kit.attributes import Attribute, parse
from generation.recipes.kit.seeds import seed_prompt


@dataclass(frozen=True)
class Form:
    labels: tuple[str, ...]  # in the order written
    required: tuple[str, ...]
    hints: tuple[str, ...]  # what goes after each label in the instructions

    def template(self) -> str:
        return "\n".join(
            f"{label}: <{hint}>" for label, hint in zip(self.labels, self.hints, strict=True)
        )


FORMS = {
    "sft": Form(("Instruction", "Response"), ("Instruction", "Response"),
                ("the task for an AI assistant", "an excellent response to it")),
    "qa": Form(("Question", "Solution", "Answer"), ("Question", "Answer"),
               ("the question or problem", "brief working or explanation",
                "the final answer only")),
    "classification": Form(("Text", "Label"), ("Text", "Label"),
                           ("the text to classify", "its label, one of the labels")),
}  # fmt: skip


def read_item(text: str, output: str) -> dict[str, str] | None:
    """The sections of an item by label (lower-cased keys), or None when one it needs is missing."""
    form = FORMS[output]
    names = "|".join(form.labels)
    head = re.compile(rf"^[\s>#*\-\d.)]*\**\s*({names})\s*\**\s*[:：]\s*\**", re.I | re.M)
    marks = list(head.finditer(text))
    found: dict[str, str] = {}
    ends = [m.start() for m in marks[1:]] + [len(text)] * bool(marks)
    for m, end in zip(marks, ends, strict=True):
        label = m.group(1).lower()
        body = text[m.end() : end].strip().strip("*").strip()
        if label not in found and body:
            found[label] = body
    if output == "qa" and "answer" not in found and "solution" in found:
        said = answers.extract(found["solution"])
        if said:
            found["answer"] = said
    if any(r.lower() not in found for r in form.required):
        return None
    return found


def write_item(item: dict[str, str], output: str) -> str:
    return "\n".join(
        f"{label}: {item[label.lower()]}"
        for label in FORMS[output].labels
        if item.get(label.lower())
    )


def example(seed: SeedRow, output: str) -> dict[str, str] | None:
    """A seed as an example item of the output kind (None for kinds that do not fit)."""
    payload = seed.payload
    prompt = seed_prompt(seed)
    first = (payload.get("instances") or [{}])[0]
    if seed.kind == "qa":
        reply, working = str(payload.get("answer") or ""), str(payload.get("rationale") or "")
    elif seed.kind == "labelled":
        prompt, reply, working = (
            str(payload.get("text") or seed.text),
            str(payload.get("label") or ""),
            "",
        )
    else:
        reply, working = str(first.get("output") or "") if isinstance(first, dict) else "", ""
    if not prompt or not reply:
        return None
    if output == "sft":
        return {"instruction": prompt, "response": f"{working}\n{reply}".strip()}
    if output == "qa":
        return {"question": prompt, "solution": working, "answer": reply}
    return {"text": prompt, "label": reply}


def read_attributes(text: str, most: int = 4, values: int = 6) -> list[Attribute]:
    """Attributes from a model's list: one "name: value, value, …" per line, decoration
    stripped; lines that do not read, or have fewer than 2 values, are skipped."""
    out: list[Attribute] = []
    for line in text.splitlines():
        line = re.sub(r"^[\s>#*\-\d.)]+", "", line).replace("**", "").strip()
        name, sep, rest = line.partition(":")
        name = re.sub(r"\s+", "_", name.strip().lower())
        kept = [v.strip().strip(".").strip() for v in re.split(r"[,/;]", rest) if v.strip()]
        if not sep or not re.fullmatch(r"[\w-]{1,40}", name) or len(kept) < 2:
            continue
        if name in {a.name for a in out}:
            continue
        try:
            (attribute,) = parse(f"{name}: " + ", ".join(dict.fromkeys(kept[:values])))
        except ValueError:
            continue
        out.append(attribute)
        if len(out) == most:
            break
    return out


def constraint_list(text: str) -> list[str]:
    return [c.strip() for c in re.split(r"[;\n]", text) if c.strip()]


def label_list(text: str) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))

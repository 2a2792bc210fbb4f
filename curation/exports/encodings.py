"""Self-Instruct's fine-tuning encoding (METHODS.md #24), an export option for SFT formats.

The paper fine-tunes on prompt/completion text in which each instance is written with one of
several templates picked at random, so the model does not learn one fixed layout; field
names that models put in front of an input ("Sentence:", "Input:") are sometimes stripped.
The template wording here is ours, in the shape the paper describes. The pick is seeded by
the export's seed and the sample id, so the same export is the same file every time.
"""

from __future__ import annotations

import random
import re

WITH_INPUT = (
    ("{instruction}\nInput: {input}\nOutput:", " {output}"),
    ("{instruction}\n\nInput: {input}\n\nOutput:", " {output}"),
    ("Task: {instruction}\nInput: {input}\nOutput:", " {output}"),
    ("{instruction}\n\n{input}\n\nOutput:", " {output}"),
    ("{instruction}\n\n{input}\n\n", "{output}"),
    ("{instruction}\n{input}\n\n", "{output}"),
    ("Task: {instruction}\n\n{input}\n\n", "{output}"),
)
WITHOUT_INPUT = (
    ("{instruction} Output:", " {output}"),
    ("{instruction}\nOutput:", " {output}"),
    ("{instruction}\n\nOutput:", " {output}"),
    ("{instruction}\n", "{output}"),
    ("{instruction}\n\n", "{output}"),
    ("Task: {instruction}\n\n", "{output}"),
)
_FIELD_NAME = re.compile(r"^[A-Z][A-Za-z ]{0,20}:\s+")


def self_instruct(
    instruction: str, given: str, output: str, *, seed: int, sample_id: int
) -> tuple[str, str]:
    """(prompt, completion) for one instance, with a template picked at random."""
    rng = random.Random(f"{seed}:{sample_id}")
    instruction, given, output = instruction.strip(), given.strip(), output.strip()
    if given and rng.random() < 0.5:
        given = _FIELD_NAME.sub("", given, count=1)
    templates = WITH_INPUT if given else WITHOUT_INPUT
    prompt, completion = rng.choice(templates)
    # Plain replacement, not str.format: the texts are data and may hold braces.
    fill = {"{instruction}": instruction, "{input}": given}
    for key, value in fill.items():
        prompt = prompt.replace(key, value)
    return prompt, completion.replace("{output}", output)

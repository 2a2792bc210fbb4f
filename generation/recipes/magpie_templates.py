"""Magpie's pre-query templates, and the rules that read what an aligned model writes after one.

A pre-query is a chat template's text up to where the user's message would start. Sent to
/v1/completions, the aligned model continues it with a user query of its own. No BOS token
is written: llama.cpp and vLLM prepend the model's own to a completions prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SYSTEM = "{system}"


@dataclass(frozen=True)
class ChatTemplate:
    user: str  # what opens a user turn
    system: str = ""  # a system turn, with {system} where its text goes ("" if none)
    default_system: str = ""  # the system text the model's own template puts in by default
    stop: tuple[str, ...] = ()  # what ends a turn, as text


def _chatml(default_system: str = "") -> ChatTemplate:
    return ChatTemplate(
        user="<|im_start|>user\n",
        system="<|im_start|>system\n{system}<|im_end|>\n",
        default_system=default_system,
        stop=("<|im_end|>", "<|im_start|>", "<|endoftext|>"),
    )


TEMPLATES: dict[str, ChatTemplate] = {
    # Qwen2.5's own template adds this system turn to a chat that has none.
    "qwen2.5": _chatml("You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
    "chatml": _chatml(),
    "llama3": ChatTemplate(
        user="<|start_header_id|>user<|end_header_id|>\n\n",
        system="<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>",
        stop=("<|eot_id|>", "<|start_header_id|>", "<|end_of_text|>"),
    ),
    "gemma": ChatTemplate(
        user="<start_of_turn>user\n", stop=("<end_of_turn>", "<start_of_turn>", "<eos>")
    ),
    "mistral": ChatTemplate(user="[INST] ", stop=("</s>", "[INST]", "[/INST]")),
    "phi3": ChatTemplate(
        user="<|user|>\n",
        system="<|system|>\n{system}<|end|>\n",
        stop=("<|end|>", "<|endoftext|>", "<|assistant|>"),
    ),
}
CUSTOM = "custom"

# A reply, not a request: how assistants open or close a turn.
_ASSISTANT_OPENING = re.compile(
    r"^\W*(?:sure|certainly|of course|absolutely|great question|thank you for|thanks for "
    r"(?:asking|reaching)|i'?d be (?:happy|glad)|i would be (?:happy|glad)|i'?m (?:happy|glad) "
    r"to|happy to help|here(?: is|'s| are) (?:the|an?|your|some)\b|as an ai\b|i am an ai\b|i'?m an "
    r"ai\b|i'?m sorry,? but|i cannot\b|i can'?t (?:help|assist))",
    re.IGNORECASE,
)
_OFFER = re.compile(
    r"\b(?:how (?:can|may) i (?:help|assist)(?: you)?|what can i (?:help|do for) you"
    r"|is there anything (?:else )?i can)\b",
    re.IGNORECASE,
)
_ROLE_LINE = re.compile(r"^\s*(?:assistant|model|ASSISTANT:|Assistant:)\s*$", re.MULTILINE)


def pre_query(name: str, system: str = "", custom: str = "") -> str:
    """The text a completions call is sent: the template up to the user's message."""
    if name == CUSTOM:
        return custom
    template = TEMPLATES[name]
    text = system.strip() or template.default_system
    head = template.system.replace(SYSTEM, text) if text and template.system else ""
    return head + template.user


def stops(name: str, extra: list[str], single_line: bool) -> list[str]:
    """Where the model's query ends: the template's end of turn, the run's own, a newline."""
    found = list(TEMPLATES[name].stop) if name in TEMPLATES else []
    found += [s for s in extra if s and s not in found]
    return [*found, "\n"] if single_line and "\n" not in found else found


def read_instruction(text: str, ends: list[str], single_line: bool) -> str:
    """The query the model wrote: cut where a turn ends (servers that drop special tokens
    from the text do not stop there), at a leaked role line, and at a newline if asked."""
    for end in ends:
        if end.strip():
            text = text.split(end, 1)[0]
    text = _ROLE_LINE.split(text, maxsplit=1)[0].strip()
    if single_line:
        text = text.split("\n", 1)[0].strip()
    return text


def assistant_like(text: str) -> bool:
    """An answer or a greeting from the assistant's side, not a user's request."""
    return bool(_ASSISTANT_OPENING.match(text) or _OFFER.search(text))

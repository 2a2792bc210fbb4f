"""SIM (METHODS.md §0.1): role-played agents take turns in one conversation.

A recipe describes the agents (`Agent`: a name, the run role whose endpoint speaks for it, a
system prompt with its persona, and the state it alone sees) and calls
`await it.sim(agents, ...)` inside `make`. Each turn is one `it.gen` step of the item, so the
item's journal holds every turn: a conversation cut off by a slice boundary or a crash
resumes at the turn where it stopped, and the turns before it are read back, not asked again.

Stop conditions, checked after every turn in this order: a stop token in the turn (CAMEL's
`<CAMEL_TASK_DONE>`), an empty turn, the recipe's `check(conversation, turn)` hook (a rule
or a judge verdict; it may call other steps of the item, or raise kit.Drop for a rule break),
and the turn cap. `Conversation.messages()` gives the transcript as OpenAI messages and
`Conversation.lineage()` each turn's agent, role, model and tokens, for the sample.
"""

from generation.sim.agents import Agent, Conversation, Turn
from generation.sim.loop import simulate

__all__ = ["Agent", "Conversation", "Turn", "simulate"]

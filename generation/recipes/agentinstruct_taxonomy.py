"""AgentInstruct's skill taxonomy, reduced: three skills of ours instead of the paper's 17
skills and 100+ sub-categories. Each skill names the forms its content-transformation
agents rewrite a seed into, its instruction types (the seed-instruction flow writes one
instruction per type) and the tool its responses may use ("docsearch": the document env;
"": none)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    forms: tuple[str, ...]  # what a seed is rewritten into
    types: dict[str, str]  # instruction type → what such an instruction asks
    tool: str = ""


SKILLS: dict[str, Skill] = {
    s.name: s
    for s in (
        Skill(
            "reading_comprehension",
            "Questions and tasks that need a careful reading of a passage.",
            ("an argument passage", "a meeting transcript", "a news report",
             "a debate between two people", "a short story"),
            {
                "literal": "a question answered by a fact stated in the text",
                "inference": "a question whose answer follows from the text but is not stated",
                "summarization": "a request to summarise the text or a part of it",
                "critique": "a request to evaluate an argument or claim in the text",
                "main_idea": "a question about the text's main point or purpose",
                "vocabulary": "a question about what a word or phrase means in this text",
                "cause_effect": "a question about why something in the text happens",
            },
        ),
        Skill(
            "text_modification",
            "Rewriting a text to a specification.",
            ("an informal email", "a rough first draft", "a formal memo", "a chat thread"),
            {
                "paraphrase": "a request to say the same thing in other words",
                "simplification": "a request to rewrite it for a young reader",
                "tone_change": "a request to change its tone (formal, friendly, urgent, …)",
                "shortening": "a request to cut it to a word limit, keeping the key facts",
                "format_conversion": "a request to turn it into a list, table or outline",
                "expansion": "a request to expand a part of it with detail from the text",
            },
        ),
        Skill(
            "search_qa",
            "Questions answered by searching a collection of documents (a tool).",
            ("a frequently asked questions page", "an encyclopedia entry", "a fact sheet"),
            {
                "fact_lookup": "a question about one fact that a search can find",
                "comparison": "a question that compares two things the documents describe",
                "multi_hop": "a question that needs two facts combined",
                "verification": "a claim to check as true or false against the documents",
            },
            tool="docsearch",
        ),
    )
}  # fmt: skip

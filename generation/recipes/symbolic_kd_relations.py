"""The ATOMIC relations Symbolic Knowledge Distillation generates, with few-shot examples.

Each relation has a question that heads its prompt, a cue the inference completes ("As a
result, PersonX wants ...") and examples of (event, inference). The examples are ours,
written for Seedbed in the style of ATOMIC-2020; the reference code shows 5-10 per relation.
"""

from __future__ import annotations

from dataclasses import dataclass

PEOPLE = ("Jordan", "Sam", "Riley", "Taylor", "Morgan", "Casey", "Jamie", "Drew", "Avery", "Quinn")
PERSON_X, PERSON_Y = "Alex", "Chris"  # the names the target event is told with (as the code)


@dataclass(frozen=True)
class Relation:
    name: str
    question: str  # heads the prompt
    cue: str  # the start of the sentence the model completes
    meaning: str  # for the judge and the SFT prompt
    examples: tuple[tuple[str, str], ...]


RELATIONS: dict[str, Relation] = {
    r.name: r
    for r in (
        Relation(
            "xAttr",
            "How would others describe the person in each situation?",
            "Because of this, people see PersonX as",
            "how PersonX is seen by others",
            (
                ("PersonX volunteers at the animal shelter", "kind"),
                ("PersonX fixes the broken fence alone", "handy"),
                ("PersonX forgets PersonY's birthday again", "careless"),
                ("PersonX finishes the marathon", "determined"),
                ("PersonX tells the same joke all evening", "annoying"),
                ("PersonX lends PersonY a large sum of money", "generous"),
            ),
        ),
        Relation(
            "xWant",
            "What does the person want to do next?",
            "As a result, PersonX wants",
            "what PersonX wants to do after the event",
            (
                ("PersonX spills coffee on the laptop", "to dry the keyboard quickly"),
                ("PersonX gets a puppy", "to take it for a walk"),
                ("PersonX loses the house keys", "to call a locksmith"),
                ("PersonX wins the spelling bee", "to tell the family"),
                ("PersonX meets PersonY at the gym", "to train together"),
                ("PersonX burns the toast", "to make a fresh slice"),
            ),
        ),
        Relation(
            "xNeed",
            "What did the person need first, for the event to happen?",
            "Before this, PersonX needed",
            "what PersonX needed before the event",
            (
                ("PersonX bakes a birthday cake", "to buy flour and eggs"),
                ("PersonX drives to the beach", "to have a car"),
                ("PersonX pays for dinner", "to bring a wallet"),
                ("PersonX plays the violin at the recital", "to practise for weeks"),
                ("PersonX paints PersonY's room", "to choose a colour"),
                ("PersonX mails the package", "to find the address"),
            ),
        ),
        Relation(
            "xReact",
            "How does the person feel after the event?",
            "Afterwards, PersonX feels",
            "how PersonX feels after the event",
            (
                ("PersonX gets a promotion", "proud"),
                ("PersonX misses the last train", "frustrated"),
                ("PersonX finds an old photo of PersonY", "nostalgic"),
                ("PersonX finishes a long exam", "relieved"),
                ("PersonX hears a noise in the attic", "nervous"),
                ("PersonX receives flowers from PersonY", "loved"),
            ),
        ),
        Relation(
            "xEffect",
            "What happens to the person as a result?",
            "As a result, PersonX",
            "what happens to PersonX because of the event",
            (
                ("PersonX skips breakfast", "gets hungry by noon"),
                ("PersonX runs in the rain", "catches a cold"),
                ("PersonX studies every night", "passes the test"),
                ("PersonX trips on the stairs", "bruises a knee"),
                ("PersonX tells PersonY a secret", "feels closer to PersonY"),
                ("PersonX plants tomatoes", "has fresh vegetables in summer"),
            ),
        ),
        Relation(
            "xIntent",
            "Why did the person do this? What did they intend?",
            "PersonX did this because PersonX wanted",
            "why PersonX did it",
            (
                ("PersonX sets an alarm for 5 am", "to catch an early flight"),
                ("PersonX buys a gym membership", "to get fit"),
                ("PersonX calls PersonY late at night", "to share good news"),
                ("PersonX cleans the whole house", "to impress the guests"),
                ("PersonX learns Spanish", "to travel in Mexico"),
                ("PersonX hides the cookies", "to keep them for later"),
            ),
        ),
        Relation(
            "HinderedBy",
            "What could stop the event from happening?",
            "This would not happen if",
            "a condition that would stop the event",
            (
                ("PersonX goes for a swim", "the pool is closed for repairs"),
                ("PersonX reads the novel", "PersonX lost the glasses"),
                ("PersonX visits PersonY in hospital", "visiting hours are over"),
                ("PersonX buys a new phone", "PersonX has no money left"),
                ("PersonX bakes bread", "the oven is broken"),
                ("PersonX catches the bus", "the bus is full"),
            ),
        ),
    )
}
NAMES = tuple(RELATIONS)


def parse_relations(text: str) -> list[str]:
    """ "xWant, xNeed" → ["xWant", "xNeed"] (case-insensitive); unknown names raise."""
    by_lower = {name.lower(): name for name in RELATIONS}
    out: list[str] = []
    for raw in text.replace(";", ",").split(","):
        if not raw.strip():
            continue
        name = by_lower.get(raw.strip().lower())
        if name is None:
            raise ValueError(f"unknown relation {raw.strip()!r}; known: {', '.join(NAMES)}")
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError("name at least one relation")
    return out


def named(text: str, x: str = PERSON_X, y: str = PERSON_Y) -> str:
    return text.replace("PersonX", x).replace("PersonY", y)


def anonymised(text: str, x: str = PERSON_X, y: str = PERSON_Y) -> str:
    return text.replace(x, "PersonX").replace(y, "PersonY")


def few_shot(relation: Relation, event: str, k: int) -> str:
    """k numbered examples with people named, then the event left open after the cue."""
    lines = []
    for n, (head, tail) in enumerate(relation.examples[:k]):
        x, y = PEOPLE[(2 * n) % len(PEOPLE)], PEOPLE[(2 * n + 1) % len(PEOPLE)]
        lines.append(
            f"{n + 1}. {named(head, x, y)}.\n{named(relation.cue, x, y)} {named(tail, x, y)}."
        )
    last = len(lines) + 1
    lines.append(f"{last}. {named(event)}.\n{named(relation.cue)}")
    return "\n\n".join(lines)

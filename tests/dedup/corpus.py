"""Varied synthetic samples with planted paraphrase pairs, written here, not copied.

Each sample is an instruction about one subject in one task form, and an answer built
from sentences about that subject. A planted paraphrase keeps the subject and the task but
says both in other words: another phrasing of the task, synonyms, and the answer's
sentences in another order. The bench uses the same generator for its text set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SUBJECTS = (
    "volcanoes",
    "honeybees",
    "black holes",
    "the French Revolution",
    "compound interest",
    "sourdough bread",
    "plate tectonics",
    "the immune system",
    "solar panels",
    "chess openings",
    "coral reefs",
    "the Roman aqueducts",
    "machine translation",
    "jazz improvisation",
    "glaciers",
    "vaccines",
    "the stock market",
    "origami",
    "tidal energy",
    "the printing press",
    "photosynthesis",
    "sleep cycles",
    "electric cars",
    "the Silk Road",
    "quantum computing",
    "desert ecosystems",
    "medieval castles",
    "recycling plastics",
    "the water cycle",
    "marathon training",
    "bird migration",
    "cryptography",
    "urban gardening",
    "earthquakes",
    "the Renaissance",
    "wind turbines",
    "dinosaurs",
    "coffee roasting",
    "the human heart",
    "public libraries",
    "rainforests",
    "the Moon landing",
    "antibiotics",
    "video game design",
    "ocean tides",
    "beekeeping regulations",
    "supply chains",
    "the Great Wall of China",
    "climate change",
    "blood types",
    "hydroponics",
    "the Olympic Games",
    "spider silk",
    "lighthouses",
    "carbon dating",
    "ancient Egyptian pyramids",
    "tea ceremonies",
    "hurricanes",
    "mushroom foraging",
    "the periodic table",
    "submarines",
    "folk music",
    "rock climbing",
    "the Amazon river",
    "credit scores",
    "meditation",
    "typography",
    "bridges",
    "the Cold War",
    "cheese making",
    "auroras",
    "3D printing",
    "wolves",
    "the Internet",
    "penguins",
    "inflation",
    "hot air balloons",
    "the Byzantine Empire",
    "bonsai trees",
    "nuclear fusion",
    "sign language",
    "coral bleaching",
    "kite surfing",
    "fermentation",
    "the Hubble telescope",
    "rice farming",
    "whales",
    "the Industrial Revolution",
    "snowflakes",
    "semiconductors",
    "board games",
    "the Sahara desert",
    "octopuses",
    "railways",
    "tsunamis",
    "pottery glazes",
    "the Mars rovers",
    "lichens",
    "violin making",
    "public transport",
    "the Aztec calendar",
    "wildfires",
    "password managers",
)

# Each task has several phrasings; an original and its paraphrase use different ones.
# Every request joins two subjects, so that texts sharing a subject still differ.
TASKS = (
    (
        "Explain to a ten-year-old how {a} relate to {b}.",
        "Explain to a ten year old how {a} are related to {b}.",
    ),
    (
        "Write a short poem that mentions {a} and {b}.",
        "Write a short poem which mentions both {a} and {b}.",
    ),
    (
        "List five surprising facts linking {a} with {b}.",
        "List five surprising facts that link {a} with {b}.",
    ),
    (
        "Summarize in three sentences what {a} and {b} have in common.",
        "In three sentences, summarize what {a} and {b} have in common.",
    ),
    (
        "Write a job posting for someone who knows {a} and {b}.",
        "Write a job advert for someone who knows both {a} and {b}.",
    ),
    (
        "What misconceptions do people have about {a} and {b}?",
        "Which misconceptions do people have about {a} and {b}?",
    ),
    (
        "Plan a school field trip about {a}, with a stop about {b}.",
        "Plan a school trip about {a} that includes a stop about {b}.",
    ),
    (
        "Write a dialogue where two friends argue whether {a} matter more than {b}.",
        "Write a dialogue in which two friends argue whether {a} matter more than {b}.",
    ),
    (
        "Suggest three research questions connecting {a} and {b}.",
        "Propose three research questions that connect {a} and {b}.",
    ),
    (
        "Create a quiz question that compares {a} and {b}.",
        "Create a quiz question comparing {a} and {b}.",
    ),
)

SETTINGS = (
    "in medieval times",
    "for beginners",
    "in the Arctic",
    "on Mars",
    "in ancient Rome",
    "for small businesses",
    "in tropical countries",
    "during wartime",
    "in the year 2100",
    "for retirees",
    "in big cities",
    "on small islands",
    "in Victorian England",
    "for professional athletes",
    "under water",
    "in the desert",
    "in Japan",
    "in Brazil",
    "for people with allergies",
    "on a tight budget",
    "in outer space",
    "in kindergarten",
    "in rural villages",
    "at night",
    "in winter",
    "for musicians",
    "in hospitals",
    "for farmers",
    "in the Stone Age",
    "in virtual reality",
)

# Answers name five aspects of the subject; a paraphrase swaps in synonyms for some and
# reorders them. Words come in (word, synonym) pairs.
ASPECTS = (
    ("origin", "beginning"),
    ("cost", "price"),
    ("danger", "risk"),
    ("size", "scale"),
    ("speed", "pace"),
    ("history", "past"),
    ("future", "outlook"),
    ("benefit", "advantage"),
    ("problem", "difficulty"),
    ("rule", "regulation"),
    ("tool", "instrument"),
    ("method", "technique"),
    ("purpose", "aim"),
    ("effect", "impact"),
    ("cause", "reason"),
    ("variety", "diversity"),
    ("strength", "power"),
    ("weakness", "flaw"),
    ("pattern", "regularity"),
    ("habitat", "environment"),
    ("design", "layout"),
    ("energy use", "power consumption"),
    ("maintenance", "upkeep"),
    ("safety", "security"),
    ("teaching", "education"),
    ("measurement", "quantification"),
    ("growth", "expansion"),
    ("decline", "decrease"),
    ("symbolism", "meaning"),
    ("economics", "finances"),
    ("vocabulary", "terminology"),
    ("famous examples", "well-known cases"),
    ("common mistakes", "frequent errors"),
    ("best practices", "recommended habits"),
    ("legal status", "lawfulness"),
    ("public opinion", "popular sentiment"),
    ("trade", "commerce"),
    ("weather", "climate"),
    ("geography", "location"),
    ("ethics", "morality"),
    ("materials", "substances"),
    ("colour", "hue"),
    ("sound", "noise"),
    ("temperature", "heat"),
    ("lifespan", "longevity"),
    ("competition", "rivalry"),
    ("cooperation", "collaboration"),
    ("inventors", "pioneers"),
)
LEADS = ("{A} and {b}", "On {a} and {b}")


@dataclass(frozen=True)
class Text:
    prompt: str
    answer: str

    @property
    def messages(self) -> list[dict[str, str]]:
        return [
            {"role": "user", "content": self.prompt},
            {"role": "assistant", "content": self.answer},
        ]


def _fill(template: str, a: str, b: str) -> str:
    return template.format(a=a, b=b, A=a[:1].upper() + a[1:])


def _text(subjects: tuple[str, str], task: int, paraphrase: bool, pick: list[int]) -> Text:
    phrasing = TASKS[task][1 if paraphrase else 0]
    lead = LEADS[pick[1] % 2]
    # A paraphrase rewords two of the five aspects and moves the first one to the end.
    aspects = [ASPECTS[i][1 if paraphrase and n < 2 else 0] for n, i in enumerate(pick[2:])]
    if paraphrase:
        aspects = aspects[1:] + aspects[:1]
    answer = _fill(lead, *subjects) + ": " + ", ".join(aspects[:-1]) + " and " + aspects[-1] + "."
    return Text(_fill(phrasing, *subjects), answer)


def corpus(n: int, pairs: int, seed: int = 7) -> tuple[list[Text], list[tuple[int, int]]]:
    """`n` texts, of which `pairs` pairs (index, index) are planted paraphrases.

    Every other text has its own pair of subjects, so the only near-duplicates are the
    planted ones. After 4,000 texts the pairs run low, and each subject gets a setting
    ("in medieval times", ...) so that larger sets (the bench's) stay varied.
    """
    rng = random.Random(seed)
    originals = n - pairs
    used: set[frozenset[str]] = set()
    texts: list[Text] = []
    keys: list[tuple[tuple[str, str], int, list[int]]] = []
    while len(texts) < originals:
        a, b = rng.sample(SUBJECTS, 2)
        task = rng.randrange(len(TASKS))
        if len(used) >= 4000:
            a, b = f"{a} {rng.choice(SETTINGS)}", f"{b} {rng.choice(SETTINGS)}"
        if frozenset((a, b)) in used:
            continue
        used.add(frozenset((a, b)))
        pick = [0, rng.randrange(2), *rng.sample(range(len(ASPECTS)), 5)]
        texts.append(_text((a, b), task, False, pick))
        keys.append(((a, b), task, pick))
    planted: list[tuple[int, int]] = []
    for j, i in enumerate(rng.sample(range(originals), pairs)):
        subjects, task, pick = keys[i]
        texts.append(_text(subjects, task, True, pick))
        planted.append((i, originals + j))
    return texts, planted

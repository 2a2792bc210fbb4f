"""Gorilla's hand-written (instruction, API call) examples: six of ours over APIs that are
not in any seed set (the paper writes six per model hub and samples three per prompt). A
tool_spec seed may add its own in meta.examples: [{"instruction", "api_call"}, ...]."""

from __future__ import annotations

import json
from typing import Any

from generation.recipes.base import SeedRow

HAND_WRITTEN: tuple[dict[str, str], ...] = (
    {
        "instruction": "I run a bakery and want to know how warm it will be in Lyon tomorrow.",
        "api_call": "weather.forecast(city='Lyon', days=1, units='metric')",
        "explanation": "weather.forecast gives a city's forecast; days=1 asks for tomorrow.",
    },
    {
        "instruction": "Turn this customer e-mail into Spanish before I forward it: 'Your "
        "parcel left our warehouse today.'",
        "api_call": "translate.text(text='Your parcel left our warehouse today.', "
        "target_language='es')",
        "explanation": "translate.text translates a string; 'es' is the code for Spanish.",
    },
    {
        "instruction": "Find me three vegetarian recipes that take under 30 minutes.",
        "api_call": "recipes.search(diet='vegetarian', max_minutes=30, limit=3)",
        "explanation": "recipes.search filters by diet and cooking time and caps the results.",
    },
    {
        "instruction": "How many euros do I get for 250 US dollars today?",
        "api_call": "currency.convert(amount=250, source='USD', target='EUR')",
        "explanation": "currency.convert applies today's rate from the source to the target.",
    },
    {
        "instruction": "Label the photo 'street.jpg' with the objects a detector can see.",
        "api_call": "vision.detect_objects(image_path='street.jpg', model='detr-resnet-50')",
        "explanation": "vision.detect_objects runs the named detection model on the image.",
    },
    {
        "instruction": "Remind me to call the dentist on 3 May at 9 in the morning.",
        "api_call": "calendar.create_reminder(title='Call the dentist', when='2025-05-03T09:00')",
        "explanation": "calendar.create_reminder stores a titled reminder at an ISO time.",
    },
)


def examples_for(seed: SeedRow) -> list[dict[str, Any]]:
    """The pool an item samples from: the seed's own examples first, then ours."""
    own = (seed.payload.get("meta") or {}).get("examples")
    mine = [
        e
        for e in (own if isinstance(own, list) else [])
        if isinstance(e, dict) and e.get("instruction") and e.get("api_call")
    ]
    return [*mine, *HAND_WRITTEN]


def shown(examples: list[dict[str, Any]]) -> str:
    """Examples for the prompt, as the JSON objects the reply should hold."""
    return "\n".join(json.dumps({k: e.get(k, "") for k in HAND_WRITTEN[0]}) for e in examples)

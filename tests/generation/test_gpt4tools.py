"""GPT4Tools (#46): chains of visual tool calls self-instructed from image descriptions;
only the shown tools with valid arguments pass, negatives answer at once, context samples
continue a chain from its middle."""

from __future__ import annotations

import json
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.base import SeedRow
from generation.recipes.gpt4tools_chain import Step, check_step, image_of, parse_chain
from generation.recipes.gpt4tools_tools import TOOLS, by_name, from_tool_spec, resolve
from generation.runs.models import RunStatus
from generation.tools import bfcl
from tests.generation.cases import counter, words
from tests.generation.cases.gpt4tools import (
    NEGATIVE,
    POSITIVE,
    SEEDS,
    action_input,
    chain,
    listed,
    negative,
)

TOOL = by_name(TOOLS)
PARK = json.loads(SEEDS.decode().splitlines()[0])


def test_a_document_seed_is_an_image_named_by_its_title_with_caption_and_boxes() -> None:
    image = image_of(SeedRow(1, "document", PARK, PARK["text"]))
    assert image.path == "image/park_bench.png"
    assert image.caption.startswith("A man in a red jacket")
    assert ("dog", [150, 330, 290, 455]) in image.objects
    assert "- dog: [150, 330, 290, 455]" in image.described()
    plain = image_of(SeedRow(2, "text", {"text": "A cat on a mat.\ncat: [1, 2, 30, 40]"}, ""))
    assert plain.path.startswith("image/") and plain.objects == [("cat", [1, 2, 30, 40])]


def test_a_chain_parses_with_its_steps_and_answer_and_a_title_names_a_tool() -> None:
    parsed = parse_chain(
        "```\nInstruction: Find the dog\nand blur it.\nThought: I must find it.\n"
        "Action: Detect The Given Object\nAction Input: image/a.png, dog\n"
        "Observation: image/a_dog.png\nThought: Do I need to use a tool? No\n"
        "AI: Here it is.\nIt was under the bench.\n```"
    )
    assert parsed.instruction == "Find the dog and blur it."
    assert [(s.thought, s.action, s.action_input) for s in parsed.steps] == [
        ("I must find it.", "Detect The Given Object", "image/a.png, dog")
    ]
    assert parsed.answer == "Here it is.\nIt was under the bench."
    assert resolve(parsed.steps[0].action, list(TOOLS)) is TOOL["detect_object"]
    assert parse_chain("Score: 3\nAnswer: (A)").instruction == ""


def test_the_check_rejects_unknown_tools_bad_arguments_and_unseen_images() -> None:
    shown = [TOOL["detect_object"], TOOL["crop_region"], TOOL["count_objects"]]
    known = {"image/a.png"}

    def verdict(action: str, args: str, observation: str | None = "two") -> Any:
        return check_step(Step("", action, args, observation), shown, known, "image/a_1.png")

    assert verdict("segment_image", "image/a.png") == "unknown_tool"  # listed, not shown
    assert verdict("teleport", "image/a.png") == "unknown_tool"
    assert verdict("detect_object", "image/a.png") == "malformed_arguments"
    assert verdict("detect_object", "image/a.png, ") == "empty_argument"
    assert verdict("detect_object", "image/zz.png, dog") == "unknown_image_path"
    assert verdict("crop_region", "image/a.png, [50, 20, 10, 40]") == "bad_box"
    assert verdict("count_objects", "image/a.png, dog", None) == "missing_observation"
    crop = verdict("crop_region", "image/a.png, [10, 20, 50, 60]", "Cropped.")
    assert crop.arguments == {"image_path": "image/a.png", "box": [10, 20, 50, 60]}
    assert crop.observation == "image/a_1.png"  # a new image without a name gets one
    json_args = verdict("detect_object", '{"image_path": "image/a.png", "object": "dog"}')
    assert json_args.arguments == {"image_path": "image/a.png", "object": "dog"}


def image_seeds(bench: Any) -> Any:
    return import_seed_set(bench.owner, bench.project, name="Images", data=SEEDS)


def calls_of(sample: Sample) -> list[bfcl.Call]:
    return [
        bfcl.Call(c["function"]["name"], json.loads(c["function"]["arguments"]))
        for m in sample.messages
        for c in m.get("tool_calls") or []
    ]


@pytest.mark.django_db(transaction=True)
def test_chains_use_only_the_listed_tools_with_valid_arguments_and_bad_ones_drop(
    bench: Any, fake_llm: Any
) -> None:
    count = counter()

    def reply(body: dict[str, Any]) -> str:
        n = count()
        if n % 3 == 1:  # a tool the prompt did not list
            return chain(body, n).replace(f"Action: {listed(body)[1][0]}", "Action: teleport")
        if n % 3 == 2:  # an image path nothing produced
            image, _ = listed(body)
            return chain(body, n).replace(f"{image}", "image/elsewhere.png", 2)
        return chain(body, n)

    fake_llm.script(POSITIVE, reply)
    params = {"negative_share": 0.0, "context_share": 0.0, "tools_per_item": 4}
    run = bench.start("gpt4tools", 4, seed_set=image_seeds(bench), params=params)
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run))
    assert len(samples) == 4
    for s in samples:
        names = {t["function"]["name"] for t in s.tools or []}
        assert len(names) == 4 and names <= set(TOOL)
        calls = calls_of(s)
        assert calls and {c.name for c in calls} <= names
        assert bfcl.check(calls, s.tools or [], None).valid
        image = s.messages[0]["content"].split("\n")[0].removeprefix("Image: ")
        assert image.startswith("image/") and "Description: " in s.messages[0]["content"]
        for call in calls:
            assert call.arguments and call.arguments.get("image_path", image) == image
        assert s.messages[-1]["content"].startswith("No tool needed.")
        assert s.extra["metadata"]["sample"] == "positive"
    # Both bad kinds were met and dropped (how many of each depends on which item's call
    # got which scripted reply under concurrency).
    assert run.filtered["unknown_tool"] >= 1 and run.filtered["unknown_image_path"] >= 1


@pytest.mark.django_db(transaction=True)
def test_a_negative_sample_calls_no_tool_and_ends_with_no_tool_needed(
    bench: Any, fake_llm: Any
) -> None:
    count = counter()
    fake_llm.script(NEGATIVE, lambda body: negative(count()))
    fake_llm.script(POSITIVE, lambda body: chain(body, count()))
    params = {"negative_share": 0.9, "context_share": 0.0}
    run = bench.start("gpt4tools", 6, seed_set=image_seeds(bench), params=params)
    assert run.status == RunStatus.COMPLETED, run.last_error
    negatives = [
        s for s in Sample.objects.filter(run=run) if s.extra["metadata"]["sample"] == "negative"
    ]
    assert negatives
    for s in negatives:
        assert [m["role"] for m in s.messages] == ["user", "assistant"]
        assert not calls_of(s) and s.tools  # the tools were there; none was needed
        assert s.messages[-1]["content"].startswith("No tool needed.\nA fact about")


@pytest.mark.django_db(transaction=True)
def test_a_context_sample_starts_mid_chain_after_its_unweighted_first_steps(
    bench: Any, fake_llm: Any
) -> None:
    count = counter()

    def two_steps(body: dict[str, Any]) -> str:
        n = count()
        image, tools = listed(body)
        head, tail = chain(body, n).split("Thought: Do I need to use a tool? No")
        again = (
            f"Thought: Once more.\nAction: {tools[1]}\n"
            f"Action Input: {action_input(tools[1], image, n)}\nObservation: {words(n, 3)}.\n"
        )
        return f"{head}{again}Thought: Do I need to use a tool? No{tail}"

    fake_llm.script(POSITIVE, two_steps)
    params = {"negative_share": 0.0, "context_share": 0.9}
    run = bench.start("gpt4tools", 6, seed_set=image_seeds(bench), params=params)
    assert run.status == RunStatus.COMPLETED, run.last_error
    contexts = [
        s for s in Sample.objects.filter(run=run) if s.extra["metadata"]["sample"] == "context"
    ]
    assert contexts
    for s in contexts:
        meta, messages = s.extra["metadata"], s.messages
        k, start = meta["context_steps"], meta["continue_from"]
        assert 1 <= k <= meta["steps"] == 2
        assert messages[start - 1]["role"] == "tool"  # it continues after an observation
        weights = [m.get("weight") for m in messages if m["role"] == "assistant"]
        assert weights == [0] * k + [1] * (3 - k)
        assert messages[start]["role"] == "assistant" and messages[start]["weight"] == 1
    assert run.produced == 6


def test_a_tool_spec_seed_becomes_a_visual_tool_with_its_image_argument_first() -> None:
    payload = {
        "function": {
            "name": "blur_faces",
            "description": "Blur every face.",
            "parameters": {
                "type": "object",
                "properties": {"strength": {"type": "string"}, "image_path": {"type": "string"}},
                "required": ["image_path"],
            },
        },
        "meta": {"output": "image"},
    }
    tool = from_tool_spec(payload)
    assert tool is not None and tool.output == "image"
    assert [(a.name, a.kind) for a in tool.args] == [("image_path", "image"), ("strength", "text")]
    assert tool.schema()["function"]["parameters"]["required"] == ["image_path", "strength"]
    assert from_tool_spec({"function": {}}) is None

"""PC Agent-E (#57), text only: a five-step human GUI trajectory gets a completed thought per
step and n alternative decisions per step, each parsed into the action grammar and checked
against the tree of its own step; refinement drops the steps that did nothing."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.pc_agent_e_actions import ActionError, Screen, fit, parse_action
from generation.recipes.pc_agent_e_trajectory import read_trajectory, refine, split_reply
from generation.runs.models import RunItem, RunStatus
from tests.generation.cases.pc_agent_e import BOOST, THOUGHT, tree_ids

HUMAN = ["click([s1-open])", 'type("hello")', "click(640, 300)", 'press("enter")',
         'hotkey("ctrl", "s")']  # fmt: skip


def tree(k: int) -> str:
    """Step k's screen: its own element ids, so a step can only point into its own tree."""
    return (
        f'window "Editor {k}" [s{k}-win] (0, 0, 1280, 720)\n'
        f'  button "Open" [s{k}-open] (10, 10, 90, 40)\n'
        f'  document "Page" [s{k}-doc] (100, 60, 1270, 700) focused'
    )


def trajectory(actions: list[str], *, tail: str | None = None, **meta: Any) -> bytes:
    messages: list[dict[str, str]] = []
    for k, action in enumerate(actions, 1):
        messages += [{"role": "user", "content": tree(k)}, {"role": "assistant", "content": action}]
    if tail is not None:
        messages.append({"role": "user", "content": tail})
    return json.dumps({"messages": messages, "task": "Write hello and save it.", **meta}).encode()


def step_of(prompt: str) -> int:
    return int(re.search(r'window "Editor (\d+)"', prompt).group(1))


def thought_for(body: dict[str, Any]) -> str:
    prompt = body["messages"][-1]["content"]
    return f"Thought: I am at step {step_of(prompt)} and this action moves the task on."


def alternatives(body: dict[str, Any]) -> list[str]:
    """Per choice, a click on an element of the tree this prompt shows."""
    ids = tree_ids(body["messages"][-1]["content"])
    return [
        f"Looking at the page, option {j} is to use [{ids[j % len(ids)]}].\n"
        f"Action: click([{ids[j % len(ids)]}])"
        for j in range(int(body.get("n") or 1))
    ]


def run_on(bench: Any, data: bytes, target: int = 100, **params: Any) -> Any:
    seeds = import_seed_set(bench.owner, bench.project, name="GUI", data=data)
    return bench.start("pc_agent_e", target, seed_set=seeds, params=params)


def five_steps(bench: Any, fake_llm: Any, n: int) -> Any:
    """The five-step trajectory, thoughts that name their step, clicks into each tree."""
    fake_llm.script(THOUGHT, thought_for)
    fake_llm.script(BOOST, alternatives)
    run = run_on(bench, trajectory(HUMAN), alternatives=n)
    assert run.status == RunStatus.COMPLETED, run.last_error
    return run


@pytest.mark.django_db(transaction=True)
def test_five_steps_give_five_thought_completed_steps_and_five_times_n_alternatives(
    bench: Any, fake_llm: Any
) -> None:
    n = 3
    run = five_steps(bench, fake_llm, n)
    samples = list(Sample.objects.filter(run=run).order_by("id"))
    human = [s for s in samples if s.extra["tags"] == ["human"]]
    boosted = [s for s in samples if s.extra["tags"] == ["alternative"]]
    assert len(human) == 5 and len(boosted) == 5 * n == len(samples) - 5
    for sample in samples:
        k = sample.extra["metadata"]["step"]
        system, user, assistant = sample.messages
        assert system["role"] == "system" and "click([id])" in system["content"]
        # The context is this step's observation, and only this step's.
        assert tree(k) in user["content"]
        assert {step_of(t) for t in re.findall(r'window "Editor \d+"', user["content"])} == {k}
        thought, said = split_reply(assistant["content"])
        action = parse_action(said or "")
        fit(action, Screen.read(tree(k), 1280, 720))  # raises when it points elsewhere
        assert sample.extra["metadata"]["observation_step"] == k
        assert sample.extra["rationale"] == thought
        assert sample.extra["trajectory_id"] == run_items(run)[0].work_key
    # The human's action is kept; the thought before it is the completed one.
    for k, sample in enumerate(sorted(human, key=lambda s: s.extra["metadata"]["step"]), 1):
        assert sample.messages[-1]["content"].endswith(f"Action: {HUMAN[k - 1]}")
        assert f"I am at step {k} and" in sample.extra["rationale"]
        assert sample.step == "thought_completion"
    per_step = {k: [s for s in boosted if s.extra["metadata"]["step"] == k] for k in range(1, 6)}
    assert all(len(group) == n for group in per_step.values())
    assert {s.extra["metadata"]["element"].split("[")[1][:2] for s in per_step[4]} == {"s4"}


def run_items(run: Any) -> list[Any]:
    return list(RunItem.objects.filter(run=run))


@pytest.mark.django_db(transaction=True)
def test_each_thought_sees_the_thoughts_and_actions_completed_before_it(
    bench: Any, fake_llm: Any
) -> None:
    five_steps(bench, fake_llm, 1)
    prompts = [b["messages"][-1]["content"] for b in fake_llm.requests]
    third = next(p for p in prompts if re.search(THOUGHT, p) and step_of(p) == 3)
    assert "The action you took: click(640, 300)" in third
    assert 'It acts on: document "Page" [s3-doc]' in third
    assert "I am at step 1 and" in third and "I am at step 2 and" in third
    assert "I am at step 3 and" not in third and 'Action: type("hello")' in third
    boost_5 = next(p for p in prompts if re.search(BOOST, p) and step_of(p) == 5)
    assert "I am at step 4 and" in boost_5 and 'press("enter")' in boost_5


@pytest.mark.django_db(transaction=True)
def test_alternatives_that_break_the_schema_or_point_outside_their_tree_are_dropped(
    bench: Any, fake_llm: Any
) -> None:
    bad = [
        "I will press the open button now.\nAction: click([s9-open])",  # another step's id
        "The page is big, so I click low.\nAction: click(640, 900)",  # off the screen
        "I think I should open the file menu here.",  # no action at all
        'I will use the keyboard shortcut.\nAction: hotkey("ctrl", "banana")',
        "I will open it from the toolbar.\nAction: open_menu([s1-open])",
        "ok\nAction: click([s1-open])",  # thought too short
    ]
    fake_llm.script(THOUGHT, thought_for)
    fake_llm.script(BOOST, lambda body: [*bad, *alternatives(body)[:1]])
    run = run_on(bench, trajectory(HUMAN[:1]), alternatives=len(bad) + 1)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert Sample.objects.filter(run=run).count() == 2  # the human's and the one good one
    assert run.filtered == {
        "alternative_unknown_element": 1,
        "alternative_off_screen": 1,
        "alternative_no_action": 1,
        "alternative_unknown_key": 1,
        "alternative_unknown_action": 1,
        "alternative_no_thought": 1,
    }


@pytest.mark.django_db(transaction=True)
def test_at_a_human_finish_only_finishing_alternatives_are_kept(bench: Any, fake_llm: Any) -> None:
    fake_llm.script(THOUGHT, thought_for)
    fake_llm.script(
        BOOST,
        lambda _body: ["Everything is saved, so the task is complete.\nAction: finish()",
         "I should check the page once more first.\nAction: click([s2-doc])"],
    )  # fmt: skip
    run = run_on(bench, trajectory(HUMAN[:1], tail=tree(2)), alternatives=2)
    assert run.status == RunStatus.COMPLETED, [i.detail for i in run_items(run)]
    samples = Sample.objects.filter(run=run)
    # Step 1 keeps the human's and the finish(); the click points into step 2's tree.
    assert sorted(s.extra["metadata"]["step"] for s in samples) == [1, 1, 2, 2]
    last = [s for s in samples if s.extra["metadata"]["step"] == 2]
    assert sorted(s.messages[-1]["content"].rsplit("Action: ", 1)[1] for s in last) == [
        "finish()",
        "finish()",
    ]  # the human's (the bare last observation) and one alternative
    assert run.filtered == {"alternative_not_finish": 1, "alternative_unknown_element": 1}


@pytest.mark.django_db(transaction=True)
def test_an_unusable_thought_drops_its_steps_sample_but_not_its_alternatives(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(THOUGHT, "Sure.")
    fake_llm.script(BOOST, alternatives)
    run = run_on(bench, trajectory(HUMAN[:2]), alternatives=1)
    samples = Sample.objects.filter(run=run)
    assert [s.extra["tags"] for s in samples] == [["alternative"], ["alternative"]]
    assert run.filtered["no_thought"] == 2


@pytest.mark.django_db(transaction=True)
def test_a_trajectory_with_no_usable_step_is_filtered(bench: Any, fake_llm: Any) -> None:
    fake_llm.script(r".*", "Sure.")
    run = run_on(bench, trajectory(HUMAN[:2]), alternatives=1)
    assert run.status == RunStatus.FAILED
    assert [i.reason for i in run_items(run)] == ["no_usable_step"]


def test_refinement_drops_what_did_nothing_merges_typing_and_ends_with_finish() -> None:
    same = tree(1)
    messages = [
        ("user", same), ("assistant", "wait()"),
        ("user", same), ("assistant", "click([s1-open])"),  # nothing changed after it
        ("user", same), ("assistant", "click([s1-open])"),
        ("user", tree(2)), ("assistant", 'press("shift")'),
        ("user", tree(2)), ("assistant", 'type("Hel")'),
        ("user", tree(3)), ("assistant", 'type text: lo'),
        ("user", tree(4)), ("assistant", "click([s1-open])"),  # not in step 4's tree
        ("user", tree(4)), ("assistant", "Action: press key: Return"),
        ("user", tree(5)),
    ]  # fmt: skip
    payload = {
        "messages": [{"role": r, "content": c} for r, c in messages],
        "meta": {"task": "Type Hello.", "screen": [1280, 720]},
    }
    refined = refine(read_trajectory(payload, 800, 600))
    assert [s.action.text() for s in refined.steps] == [
        "click([s1-open])", 'type("Hello")', 'press("enter")', "finish()",
    ]  # fmt: skip
    assert [s.screen.text for s in refined.steps] == [tree(1), tree(2), tree(4), tree(5)]
    assert refined.counts == {
        "human_leading_wait": 1,
        "human_no_op": 1,
        "human_lone_modifier": 1,
        "human_typing_merged": 1,
        "human_unknown_element": 1,
    }


def test_the_paper_spellings_parse_into_the_grammar_and_placeholders_do_not() -> None:
    spelled = {
        "click (10, 20)": "click(10, 20)",
        "right click (5, 6)": "right_click(5, 6)",
        "double click (7, 8)": "double_click(7, 8)",
        "drag from (1, 2) to (3, 4)": "drag(1, 2, 3, 4)",
        "press key: Enter": 'press("enter")',
        "type text: hi, you": 'type("hi, you")',
        "hotkey (Ctrl, Shift, t)": 'hotkey("ctrl", "shift", "t")',
        "scroll (-120)": "scroll(0, -120)",
        "click(id=7)": "click([7])",
        "`finish`": "finish()",
    }
    assert {raw: parse_action(raw).text() for raw in spelled} == spelled
    refused = {
        "click (x, y)": "unparsable_action",
        'press("hyper")': "unknown_key",
        "launch(notepad)": "unknown_action",
        "hotkey(ctrl)": "unparsable_action",
    }
    for raw, reason in refused.items():
        with pytest.raises(ActionError) as caught:
            parse_action(raw)
        assert caught.value.reason == reason


def test_a_click_lands_on_the_deepest_element_under_it_and_off_screen_is_refused() -> None:
    screen = Screen.read(tree(1), 1280, 720)
    assert fit(parse_action("click(50, 20)"), screen).id == "s1-open"  # type: ignore[union-attr]
    assert fit(parse_action("click(500, 400)"), screen).id == "s1-doc"  # type: ignore[union-attr]
    with pytest.raises(ActionError, match="off the 1280x720 screen"):
        fit(parse_action("drag(10, 10, 1280, 10)"), screen)

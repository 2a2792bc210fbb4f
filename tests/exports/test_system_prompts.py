"""The `system_prompt` export option (Orca 2's prompt erasure): as stored by default, the
teacher's prompt restored, or none; in every format, from the service, page, API and
command; recorded in the manifest and card; and round trips that give the same bytes."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, TestCase

from curation.exports.formats import split_key
from curation.exports.models import Export
from curation.exports.services import import_dataset
from curation.review import services as review
from tests.cast import Cast
from tests.exports.helpers import export_now, jsonl_rows, path_of
from tests.factories import PreferenceSampleFactory, ProjectFactory, SampleFactory, chat

pytestmark = pytest.mark.django_db

GENERIC = "You are a helpful assistant."
TEACHER = "You are a tutor. Think step by step and show each step."
TEACHER_PAIR = "Answer directly, in one sentence."


def system(content: str) -> dict[str, str]:
    return {"role": "system", "content": content}


@pytest.fixture
def orca(cast: Cast) -> dict[str, Any]:
    """Orca 2 rows (a generic system prompt stored, the teacher's kept in extra) beside
    a sample with its own system prompt and one with none."""
    p = cast.project
    return {
        "orca": SampleFactory(
            project=p,
            status="accepted",
            messages=[system(GENERIC), *chat("What is 17 + 25?", "17 + 25 = 42.")],
            extra={"erased_system_prompt": TEACHER, "metadata": {"strategy": "step-by-step"}},
        ),
        "orca_no_system": SampleFactory(
            project=p,
            status="accepted",
            messages=chat("Name a prime.", "7."),
            extra={"erased_system_prompt": TEACHER_PAIR},
        ),
        "own": SampleFactory(
            project=p,
            status="accepted",
            messages=[system("Be terse."), *chat("Capital of Peru?", "Lima.")],
        ),
        "plain": SampleFactory(project=p, status="accepted", messages=chat("Hi?", "Hello.")),
        "pair": PreferenceSampleFactory(
            project=p,
            status="accepted",
            messages=[system(GENERIC), {"role": "user", "content": "Is 9 prime?"}],
            chosen=[{"role": "assistant", "content": "No: 9 = 3 x 3."}],
            rejected=[{"role": "assistant", "content": "Yes."}],
            extra={"source": "ai_judge:orca", "erased_system_prompt": TEACHER_PAIR},
        ),
    }


def by_question(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each openai row's messages, keyed by its user turn."""
    return {
        next(m["content"] for m in r["messages"] if m["role"] == "user"): r["messages"]
        for r in rows
    }


def openai(cast: Cast, mode: str | None = None, **kwargs: Any) -> Export:
    options = {"system_prompt": mode} if mode else None
    return export_now(cast.curator, cast.project, format="openai", options=options, **kwargs)


def test_by_default_system_messages_are_written_as_stored(cast: Cast, orca: dict[str, Any]) -> None:
    default, stored = openai(cast), openai(cast, "stored")
    assert (
        path_of(default, "train.jsonl").read_bytes() == path_of(stored, "train.jsonl").read_bytes()
    )
    rows = by_question(jsonl_rows(default))
    assert rows["What is 17 + 25?"][0] == system(GENERIC)
    assert rows["Name a prime."][0]["role"] == "user"
    assert default.manifest["options"]["system_prompt"] == "stored"
    assert default.manifest["system_prompts"] == {"mode": "stored", "teacher_prompts": 3}
    card = path_of(default, "README.md").read_text()
    assert "## System prompts" in card and "3 selected samples kept a teacher" in card


def test_teacher_restores_the_erased_prompt_and_leaves_other_samples_as_stored(
    cast: Cast, orca: dict[str, Any]
) -> None:
    export = openai(cast, "teacher")
    rows = by_question(jsonl_rows(export))
    assert rows["What is 17 + 25?"] == [system(TEACHER), *chat("What is 17 + 25?", "17 + 25 = 42.")]
    assert rows["Name a prime."] == [system(TEACHER_PAIR), *chat("Name a prime.", "7.")]
    assert rows["Capital of Peru?"][0] == system("Be terse.")
    assert rows["Hi?"] == chat("Hi?", "Hello.")
    assert export.manifest["system_prompts"]["mode"] == "teacher"
    assert "`teacher`" in path_of(export, "README.md").read_text()
    # The stored sample is untouched: the option changes what is written, not the data.
    orca["orca"].refresh_from_db()
    assert orca["orca"].messages[0] == system(GENERIC)


def test_none_drops_every_system_message_in_every_sft_format(
    cast: Cast, orca: dict[str, Any]
) -> None:
    rows = jsonl_rows(openai(cast, "none"))
    assert len(rows) == 5 and all(m["role"] != "system" for r in rows for m in r["messages"])
    share = export_now(
        cast.curator, cast.project, format="sharegpt", options={"system_prompt": "none"}
    )
    assert all(t["from"] != "system" for r in jsonl_rows(share) for t in r["conversations"])
    alpaca = export_now(
        cast.curator, cast.project, format="alpaca", options={"system_prompt": "none"}
    )
    assert not any("system" in r for r in jsonl_rows(alpaca))
    teacher = export_now(
        cast.curator, cast.project, format="alpaca", options={"system_prompt": "teacher"}
    )
    systems = {r["instruction"]: r.get("system") for r in jsonl_rows(teacher)}
    assert systems["What is 17 + 25?"] == TEACHER and systems["Capital of Peru?"] == "Be terse."


def test_preference_rows_take_the_option_in_their_prompt(cast: Cast, orca: dict[str, Any]) -> None:
    def pairs(fmt: str, mode: str) -> list[dict[str, Any]]:
        options = {"system_prompt": mode}
        return jsonl_rows(export_now(cast.curator, cast.project, format=fmt, options=options))

    (teacher,) = pairs("dpo_conversational", "teacher")
    assert teacher["prompt"] == [system(TEACHER_PAIR), {"role": "user", "content": "Is 9 prime?"}]
    (dropped,) = pairs("dpo_conversational", "none")
    assert dropped["prompt"] == [{"role": "user", "content": "Is 9 prime?"}]
    # Plain-text DPO holds one user turn: the stored system prompt keeps the pair out, "none"
    # lets it in.
    stored = export_now(cast.curator, cast.project, format="dpo")
    assert stored.manifest["counts"]["skipped"] == {"prompt_not_one_user_turn": 1}
    assert pairs("dpo", "none")[0]["prompt"] == "Is 9 prime?"
    kto = pairs("kto", "teacher")
    assert {r["prompt"][0]["content"] for r in kto if r["prompt"][0]["role"] == "system"} == {
        TEACHER,
        TEACHER_PAIR,
        "Be terse.",
    }


def test_an_edit_pair_keeps_its_prompt_when_the_teachers_is_restored(cast: Cast) -> None:
    edited = SampleFactory(
        project=cast.project,
        messages=[system(GENERIC), *chat("Spell cat.", "k-a-t")],
        extra={"erased_system_prompt": TEACHER},
    )
    queue = review.create_queue(cast.curator, cast.project, name="edits")
    a = review.claim_next(cast.annotator, queue)
    assert a is not None and a.item.sample_id == edited.pk
    better = [system(GENERIC), *chat("Spell cat.", "c-a-t")]
    review.submit_review(cast.annotator, a, decision="accept", messages=better)
    options = {"system_prompt": "teacher"}
    export = export_now(cast.curator, cast.project, format="dpo_conversational", options=options)
    (row,) = jsonl_rows(export)
    assert row["source"] == "human:edit" and row["prompt"][0] == system(TEACHER)
    assert row["chosen"][0]["content"] == "c-a-t" and row["rejected"][0]["content"] == "k-a-t"


def test_accepted_against_rejected_pairs_take_the_accepted_samples_teacher_prompt(
    cast: Cast,
) -> None:
    for status, answer in (("accepted", "Blue."), ("rejected", "Dog.")):
        SampleFactory(
            project=cast.project,
            status=status,
            messages=[system(GENERIC), *chat("Name a colour.", answer)],
            extra={"erased_system_prompt": TEACHER} if status == "accepted" else {},
        )
    options = {"system_prompt": "teacher"}
    export = export_now(cast.curator, cast.project, format="dpo_conversational", options=options)
    (row,) = jsonl_rows(export)
    assert row["source"] == "human:accept_vs_reject"
    assert row["prompt"] == [system(TEACHER), {"role": "user", "content": "Name a colour."}]


@pytest.mark.parametrize("mode", ["stored", "teacher", "none"])
@pytest.mark.parametrize("fmt", ["openai", "dpo_conversational"])
def test_an_export_imported_elsewhere_exports_again_as_the_same_bytes(
    cast: Cast, orca: dict[str, Any], fmt: str, mode: str
) -> None:
    """What a file holds is what the option wrote: imported, it is stored as such (the
    erased prompt is not part of any format), and exporting it again as stored (or with the
    same option: nothing left to restore or drop) gives the same bytes."""
    first = export_now(cast.curator, cast.project, format=fmt, options={"system_prompt": mode})
    data = path_of(first, "train.jsonl").read_bytes()
    elsewhere = ProjectFactory(name="Elsewhere")
    imported = import_dataset(cast.curator, elsewhere, data=data, fmt=fmt, filename="x.jsonl")
    assert imported["imported"] == first.rows_written > 0
    for again_mode in {"stored", mode}:
        again = export_now(
            cast.curator,
            elsewhere,
            format=fmt,
            filters={"statuses": ["pending"]},
            options={"system_prompt": again_mode},
        )
        assert path_of(again, "train.jsonl").read_bytes() == data


def test_with_a_split_one_questions_answers_stay_together_whatever_their_teacher_prompt(
    cast: Cast,
) -> None:
    for n in range(20):
        for strategy in ("Think step by step.", "Answer directly."):
            SampleFactory(
                project=cast.project,
                status="accepted",
                messages=[system(GENERIC), *chat(f"Question {n}?", f"{strategy} {n}")],
                extra={"erased_system_prompt": f"{strategy} (question {n})"},
            )
    export = openai(cast, "teacher", split={"validation": 0.5, "seed": 3})
    sides = {}
    for name in ("train.jsonl", "validation.jsonl"):
        for question in by_question(jsonl_rows(export, name)):
            sides.setdefault(question, set()).add(name)
    assert len(sides) == 20 and all(len(s) == 1 for s in sides.values())


def test_the_split_key_can_leave_system_turns_out() -> None:
    a = {"messages": [system("A"), *chat("Q?", "x")]}
    b = {"messages": [system("B"), *chat("Q?", "y")]}
    assert split_key(a) != split_key(b)
    assert split_key(a, system=False) == split_key(b, system=False)
    alpaca = {"instruction": "Q?", "input": "", "output": "x", "system": "A"}
    assert split_key(alpaca, system=False) == split_key(alpaca)


def test_the_page_offers_the_option_and_builds_with_it(cast: Cast, orca: dict[str, Any]) -> None:
    client = Client()
    client.force_login(cast.curator)
    page = client.get(f"/projects/{cast.project.pk}/exports/").content.decode()
    assert 'name="system_prompt"' in page and '<option value="teacher">' in page
    form = {"format": "openai", "statuses": ["accepted"], "system_prompt": "none"}
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(f"/projects/{cast.project.pk}/exports/", form)
    export = Export.objects.get()
    assert export.options["system_prompt"] == "none"
    detail = client.get(f"/exports/{export.pk}/").content.decode()
    assert 'system prompts: <span id="system-prompt-mode">none</span>' in detail
    assert all(m["role"] != "system" for r in jsonl_rows(export) for m in r["messages"])
    preview = client.get(
        f"/projects/{cast.project.pk}/exports/?format=openai&statuses=accepted"
        "&system_prompt=teacher",
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "tutor." in preview


def test_the_api_takes_the_option_documents_it_and_refuses_an_unknown_one(
    cast: Cast, orca: dict[str, Any], api_client_for: Any
) -> None:
    client = api_client_for(cast.curator)
    url = f"/api/v1/projects/{cast.project.pk}/exports"
    with TestCase.captureOnCommitCallbacks(execute=True):
        made = client.post(
            url, {"format": "openai", "options": {"system_prompt": "teacher"}}, "application/json"
        )
    assert made.status_code == 201 and made.json()["options"]["system_prompt"] == "teacher"
    assert Export.objects.get().manifest["system_prompts"]["mode"] == "teacher"
    bad = client.post(
        url, {"format": "openai", "options": {"system_prompt": "student"}}, "application/json"
    )
    assert bad.status_code == 422 and "system_prompt" in json.dumps(bad.json())
    assert Export.objects.count() == 1
    schema = Client().get("/api/v1/openapi.json").json()["components"]["schemas"]
    option = schema["ExportOptionsIn"]["properties"]["system_prompt"]
    assert "prompt erasure" in option["description"]
    assert {"stored", "teacher", "none"} <= set(json.dumps(option).split('"'))


def test_manage_py_export_takes_the_option(cast: Cast, orca: dict[str, Any]) -> None:
    out = io.StringIO()
    call_command(
        "export", "--project", cast.project.slug, "--format", "openai",
        "--system-prompt", "teacher", stdout=out,
    )  # fmt: skip
    export = Export.objects.get(pk=json.loads(out.getvalue())["export_id"])
    assert export.options["system_prompt"] == "teacher"
    assert by_question(jsonl_rows(export))["What is 17 + 25?"][0] == system(TEACHER)

"""Seed kinds through the service, the API, the pages, the command and the migration."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from curation.projects.models import AuditEvent
from curation.seeds.kinds import KINDS
from curation.seeds.models import SeedKind, SeedSet
from curation.seeds.services import import_seed_set
from tests.cast import Cast
from tests.factories import ProjectFactory

SHARED_SEEDS = (
    Path(__file__).resolve().parents[2].parent / "shared/data/self-instruct/seed_tasks.jsonl"
)
QA_CSV = b"Problem,Correct Answer\nWhat is 6 x 7?,42\nWhat is 2 + 2?,4\n"
MAPPING = "question=Problem\nanswer=Correct Answer"


def upload(
    client: Client, project_id: int, data: bytes, filename: str = "s.csv", **form: str
) -> Any:
    f = io.BytesIO(data)
    f.name = filename
    return client.post(
        f"/api/v1/projects/{project_id}/seed-sets", {"name": "Set", "file": f} | form
    )


def page_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_registry_and_the_model_choices_list_the_same_kinds() -> None:
    assert list(KINDS) == list(SeedKind.values)
    assert {k: s.label for k, s in KINDS.items()} == dict(SeedKind.choices)


@pytest.mark.django_db
def test_the_api_imports_a_mapped_qa_file_and_reports_its_kinds(
    cast: Cast, api_client_for: Any
) -> None:
    response = upload(
        api_client_for(cast.curator), cast.project.pk, QA_CSV, kind="qa", mapping=MAPPING
    )

    assert response.status_code == 201, response.content
    assert response.json()["kinds"] == ["qa"]
    seed_set = SeedSet.objects.get(pk=response.json()["id"])
    assert seed_set.kinds == ["qa"]
    assert seed_set.seeds.get(position=1).payload["answer"] == "42"
    assert AuditEvent.objects.get(verb="seedset.import").after["mapping"] == {
        "question": "Problem",
        "answer": "Correct Answer",
    }


@pytest.mark.django_db
def test_a_mapped_field_missing_from_a_row_is_a_400_naming_the_line_and_column(
    cast: Cast, api_client_for: Any
) -> None:
    data = QA_CSV + b"What is 1 + 1?,\n"

    response = upload(
        api_client_for(cast.curator), cast.project.pk, data, kind="qa", mapping=MAPPING
    )

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "line 4: field 'answer' (mapped from 'Correct Answer') must be a non-empty string "
        "or a number, got an empty string"
    )
    assert not SeedSet.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"kind": "recipe"}, "unknown seed kind 'recipe'"),
        ({"mapping": "question=Problem"}, "a field mapping needs a kind"),
        ({"kind": "qa", "mapping": "question"}, "mapping item 'question' is not field=column"),
    ],
    ids=["kind", "mapping-without-kind", "bad-mapping"],
)
def test_a_bad_kind_or_mapping_is_a_400(
    cast: Cast, api_client_for: Any, form: dict[str, str], message: str
) -> None:
    response = upload(api_client_for(cast.curator), cast.project.pk, QA_CSV, **form)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)


@pytest.mark.django_db
def test_a_mixed_file_lists_each_of_its_kinds_once_sorted(cast: Cast) -> None:
    data = b"".join(
        json.dumps(r).encode() + b"\n"
        for r in ({"text": "a"}, {"question": "q", "answer": "a"}, {"text": "b"})
    )

    seed_set = import_seed_set(cast.owner, cast.project, name="Mixed", data=data)

    assert seed_set.kinds == ["qa", "text"]


@pytest.mark.django_db
def test_the_shared_self_instruct_seed_tasks_are_an_instruction_set(cast: Cast) -> None:
    seed_set = import_seed_set(
        cast.owner,
        cast.project,
        name="175",
        data=SHARED_SEEDS.read_bytes(),
        filename="seed_tasks.jsonl",
    )

    assert (seed_set.seed_count, seed_set.kinds) == (175, ["instruction"])


@pytest.mark.django_db
def test_seed_sets_can_be_filtered_by_the_kinds_a_recipe_accepts(cast: Cast) -> None:
    qa = import_seed_set(
        cast.owner, cast.project, name="Q", data=b'{"question": "q", "answer": "a"}\n'
    )
    text = import_seed_set(cast.owner, cast.project, name="T", data=b'{"text": "t"}\n')
    SeedSet.objects.create(project=cast.project, name="Empty")

    assert list(SeedSet.objects.accepting({"qa"})) == [qa]
    assert set(SeedSet.objects.accepting(["qa", "text"])) == {qa, text}
    assert qa.accepts({"qa", "instruction"}) and not text.accepts({"qa"})


@pytest.mark.django_db
def test_the_seed_kinds_endpoint_describes_every_kind(cast: Cast, api_client_for: Any) -> None:
    body = api_client_for(cast.viewer).get("/api/v1/seed-kinds").json()

    assert [k["id"] for k in body] == list(KINDS)
    qa = body[list(KINDS).index("qa")]
    assert qa["payload"] == ["question", "answer", "rationale", "solution"]
    assert {f["name"]: f["required"] for f in qa["fields"]}["answer"] is True
    assert "prompt" in qa["fields"][0]["aliases"]


@pytest.mark.django_db
def test_the_upload_page_offers_kinds_and_mapping_and_imports_with_them(cast: Cast) -> None:
    client = page_client(cast.curator)
    page = client.get(f"/projects/{cast.project.pk}/seeds/upload/").content.decode()

    assert 'name="kind"' in page and 'name="mapping"' in page
    for spec in KINDS.values():
        assert f"<code>{spec.id}</code>" in page
    # The examples are rendered as escaped text.
    assert "&quot;question&quot;" in page

    f = io.BytesIO(QA_CSV)
    f.name = "quiz.csv"
    response = client.post(
        f"/projects/{cast.project.pk}/seeds/upload/",
        {"name": "Quiz", "file": f, "kind": "qa", "mapping": MAPPING},
    )
    assert response.status_code == 302
    assert SeedSet.objects.get(name="Quiz").kinds == ["qa"]


@pytest.mark.django_db
def test_the_upload_page_shows_a_mapping_without_a_kind_as_a_field_error(cast: Cast) -> None:
    f = io.BytesIO(QA_CSV)
    f.name = "quiz.csv"

    response = page_client(cast.curator).post(
        f"/projects/{cast.project.pk}/seeds/upload/",
        {"name": "Quiz", "file": f, "mapping": MAPPING},
    )

    assert response.status_code == 200
    assert "a field mapping needs a kind" in response.content.decode()
    assert not SeedSet.objects.exists()


@pytest.mark.django_db
def test_the_seed_set_page_shows_its_kinds_and_each_kind_readably(cast: Cast) -> None:
    records = [
        {"question": "<b>6 x 7?</b>", "answer": "Six sevens.\n#### 42"},
        {"name": "get_weather", "description": "Weather.", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
        {"persona": "A sailor.", "attributes": {"age": 71}},
        {"text": "Great.", "label": "positive"},
        {"critique_request": "Harmful?", "revision_request": "Fix it."},
        {"word": "lighthouse"},
        {"title": "Tides", "text": "The moon pulls."},
    ]  # fmt: skip
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    seed_set = import_seed_set(cast.owner, cast.project, name="All", data=data)

    page = page_client(cast.viewer).get(f"/seed-sets/{seed_set.pk}/").content.decode()

    assert seed_set.kinds == sorted(
        ["qa", "tool_spec", "persona", "labelled", "principle", "word_list", "document"]
    )
    for label in ("Question and answer", "Tool / API spec", "Word list", "Labelled example"):
        assert label in page
    assert "&lt;b&gt;6 x 7?&lt;/b&gt;" in page and "<b>6 x 7?</b>" not in page
    assert "<code>get_weather</code>" in page and "<code>city</code>" in page
    assert "lighthouse" in page and "Fix it." in page and "positive" in page


@pytest.mark.django_db
def test_the_import_command_takes_a_kind_and_mappings(cast: Cast, tmp_path: Path) -> None:
    path = tmp_path / "quiz.csv"
    path.write_bytes(QA_CSV)
    out = io.StringIO()

    call_command(
        "import_seeds",
        str(path),
        project=cast.project.slug,
        kind="qa",
        map=["question=Problem", "answer=Correct Answer"],
        stdout=out,
    )

    assert "Imported 2 seeds" in out.getvalue() and "kinds: qa" in out.getvalue()
    with pytest.raises(CommandError, match="the mapping names 'query', which is not a field"):
        call_command(
            "import_seeds",
            str(path),
            project=cast.project.slug,
            name="x",
            kind="qa",
            map=["query=Problem"],
        )


@pytest.mark.django_db
def test_the_import_command_reads_a_word_list_text_file(cast: Cast, tmp_path: Path) -> None:
    path = tmp_path / "words.txt"
    path.write_text("lighthouse\nolive\nharbour\n")

    call_command("import_seeds", str(path), project=cast.project.slug, stdout=io.StringIO())

    seed_set = SeedSet.objects.get(name="words")
    assert (seed_set.kinds, seed_set.source_format, seed_set.seed_count) == (
        ["word_list"],
        "text",
        3,
    )


@pytest.mark.django_db(transaction=True)
def test_the_kinds_migration_fills_kinds_for_existing_seed_sets() -> None:
    before, after = [("seeds", "0002_dedup")], [("seeds", "0003_seed_kinds")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    SeedSetThen = old.get_model("seeds", "SeedSet")
    SeedThen = old.get_model("seeds", "Seed")
    project = ProjectFactory()  # projects' own migrations are not rolled back
    mixed = SeedSetThen.objects.create(project_id=project.pk, name="Mixed", seed_count=4)
    empty = SeedSetThen.objects.create(project_id=project.pk, name="Empty")
    for position, kind in enumerate(["text", "instruction", "api_spec", "text"], start=1):
        SeedThen.objects.create(seed_set=mixed, position=position, kind=kind, payload={}, text="x")

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    SeedSetNow = new.get_model("seeds", "SeedSet")
    SeedNow = new.get_model("seeds", "Seed")

    assert SeedSetNow.objects.get(pk=mixed.pk).kinds == ["instruction", "text", "tool_spec"]
    assert SeedSetNow.objects.get(pk=empty.pk).kinds == []
    assert SeedNow.objects.filter(kind="api_spec").count() == 0

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

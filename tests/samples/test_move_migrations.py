"""Samples, judgements and LLM calls moved out of generation/runs with their tables.

A database made before the move (branch main: runs 0004) migrates forward with every row
still there, readable through the new models, and without one statement of DDL.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from curation.dedup.models import DupEdge
from curation.projects.models import AuditEvent, LLMCall
from curation.review.history import sample_history
from curation.review.models import QueueItem
from curation.samples.models import Judgement, Sample

# The heads before the move; the samples app did not exist.
BEFORE = [
    ("projects", "0002_dedup"),
    ("seeds", "0002_dedup"),
    ("runs", "0004_sample_to_embed_index"),
    ("review", "0003_audit_sample_index"),
    ("dedup", "0001_dedup"),
    ("exports", "0002_version_options_heartbeat"),
]
MOVE = [
    ("samples", "0001_initial"),
    ("projects", "0003_llmcall"),
    ("review", "0004_sample_moved_to_samples"),
    ("dedup", "0002_sample_moved_to_samples"),
    ("runs", "0005_samples_and_calls_moved_out"),
]


def migrate(targets: list[tuple[str, str | None]]) -> Any:
    """Migrate to `targets`; the historical apps at that point."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1]]).apps


def rows_made_before_the_move(old: Any) -> dict[str, int]:
    project = old.get_model("projects", "Project").objects.create(name="Old", slug="old")
    endpoint = old.get_model("projects", "ModelEndpoint").objects.create(
        project=project, name="ep", base_url="http://127.0.0.1:9/v1", chat_model="m"
    )
    run = old.get_model("runs", "Run").objects.create(
        project=project, recipe_id="self_instruct", recipe_version="1", target_count=1
    )
    OldSample = old.get_model("runs", "Sample")
    first = OldSample.objects.create(
        project=project,
        run=run,
        kind="sft",
        work_key="item-1",
        messages=[{"role": "user", "content": "Name a colour."}],
        content_hash="h1",
        tags=["colours"],
    )
    second = OldSample.objects.create(
        project=project, kind="sft", parent=first, messages=[], content_hash="h2"
    )
    judgement = old.get_model("runs", "Judgement").objects.create(
        sample=first, run=run, judge_model="judge", rubric_id="additive", score=4.0
    )
    call = old.get_model("runs", "LLMCall").objects.create(
        project=project, endpoint=endpoint, run=run, model="m", tokens_in=7, status="ok"
    )
    queue = old.get_model("review", "ReviewQueue").objects.create(project=project, name="q")
    old.get_model("review", "QueueItem").objects.create(queue=queue, sample=first)
    old.get_model("dedup", "DupEdge").objects.create(
        project=project, a=first, b=second, similarity=0.97
    )
    old.get_model("projects", "AuditEvent").objects.create(
        project=project, verb="sample.edit", object_type="runs.sample", object_id=str(first.pk)
    )
    return {"first": first.pk, "second": second.pk, "judgement": judgement.pk, "call": call.pk}


@pytest.mark.django_db(transaction=True)
def test_rows_made_before_the_move_are_read_through_the_new_models() -> None:
    try:
        old = migrate([*BEFORE, ("samples", None)])
        ids = rows_made_before_the_move(old)
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
        ContentType.objects.clear_cache()

        first = Sample.objects.get(pk=ids["first"])
        assert first.messages == [{"role": "user", "content": "Name a colour."}]
        assert first.tags == ["colours"]
        assert Sample.objects.get(pk=ids["second"]).parent == first
        assert Judgement.objects.get(pk=ids["judgement"]).sample == first
        assert first.run is not None
        assert list(first.run.llm_calls.values_list("pk", flat=True)) == [ids["call"]]
        assert LLMCall.objects.get(pk=ids["call"]).tokens_in == 7
        assert QueueItem.objects.get().sample == first
        assert DupEdge.objects.get().b_id == ids["second"]
        # Audit events and content types name the models by their new app.
        assert AuditEvent.objects.get().object_type == "samples.sample"
        assert [e["verb"] for e in sample_history(first)["events"]] == ["sample.edit"]
        assert ContentType.objects.get_for_model(Sample).app_label == "samples"
        # The constraints still guard the same table.
        with pytest.raises(IntegrityError), transaction.atomic():
            Sample.objects.create(project=first.project, kind="sft", messages=[], content_hash="h1")
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
        ContentType.objects.clear_cache()


@pytest.mark.parametrize(("app", "name"), MOVE)
def test_the_move_runs_no_sql_on_the_tables(db: None, app: str, name: str) -> None:
    out = StringIO()
    call_command("sqlmigrate", app, name, stdout=out)
    sql = out.getvalue().upper()
    for statement in ("CREATE TABLE", "DROP TABLE", "ALTER TABLE", "CREATE INDEX", "DROP INDEX"):
        assert statement not in sql

# Sample and Judgement moved to curation/samples, LLMCall to curation/projects, all with
# their tables. This drops them from the runs app's state only (no SQL), once every foreign
# key that pointed at runs.Sample points at samples.Sample, and relabels what names a model
# by its app: audit events' object_type and the content types (admin log, permissions).

from django.db import migrations

MOVED = {"sample": "samples", "judgement": "samples", "llmcall": "projects"}


def relabel(apps, *, forwards):
    ContentType = apps.get_model("contenttypes", "ContentType")
    AuditEvent = apps.get_model("projects", "AuditEvent")
    for model, app in MOVED.items():
        old, new = ("runs", app) if forwards else (app, "runs")
        AuditEvent.objects.filter(object_type=f"{old}.{model}").update(object_type=f"{new}.{model}")
        # A content type made for the new label already (post_migrate) wins; else rename.
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def forwards(apps, schema_editor):
    relabel(apps, forwards=True)


def backwards(apps, schema_editor):
    relabel(apps, forwards=False)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("runs", "0004_sample_to_embed_index"),
        ("samples", "0001_initial"),
        ("projects", "0003_llmcall"),
        ("review", "0004_sample_moved_to_samples"),
        ("dedup", "0002_sample_moved_to_samples"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Judgement"),
                migrations.DeleteModel(name="LLMCall"),
                migrations.DeleteModel(name="Sample"),
            ],
            # The tables stay: the models that moved keep using them.
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]

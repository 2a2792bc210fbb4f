"""Seed kind env_task (one task for an agent environment: AgentTuning, Re-ReST)."""

import django.contrib.postgres.fields
from django.db import migrations, models

KINDS = [
    ("instruction", "Instruction"),
    ("conversation", "Conversation"),
    ("text", "Text"),
    ("qa", "Question and answer"),
    ("document", "Document"),
    ("tool_spec", "Tool / API spec"),
    ("persona", "Persona"),
    ("labelled", "Labelled example"),
    ("principle", "Principle"),
    ("word_list", "Word list"),
    ("workflow", "Workflow"),
    ("kg_triple", "Knowledge-graph triple"),
    ("env_task", "Environment task"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("seeds", "0005_kg_triple_kind"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="seed", name="seed_kind_valid"),
        migrations.AlterField(
            model_name="seed",
            name="kind",
            field=models.CharField(choices=KINDS, max_length=16),
        ),
        migrations.AlterField(
            model_name="seedset",
            name="kinds",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(choices=KINDS, max_length=16),
                blank=True,
                default=list,
                size=None,
            ),
        ),
        migrations.AddConstraint(
            model_name="seed",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind__in", [k for k, _ in KINDS])),
                name="seed_kind_valid",
            ),
        ),
    ]

"""Seed kinds: qa, tool_spec (was api_spec), word_list; SeedSet.kinds filled for existing sets."""

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
]

# No parser ever produced api_spec, but a hand-made row would block the new constraint.
RENAME = "UPDATE seeds_seed SET kind = 'tool_spec' WHERE kind = 'api_spec'"
FILL = """
UPDATE seeds_seedset AS s
SET kinds = COALESCE(
    (SELECT array_agg(DISTINCT k.kind ORDER BY k.kind) FROM seeds_seed AS k
     WHERE k.seed_set_id = s.id),
    '{}'
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("seeds", "0002_dedup"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="seed", name="seed_kind_valid"),
        migrations.AlterField(
            model_name="seed",
            name="kind",
            field=models.CharField(choices=KINDS, max_length=16),
        ),
        migrations.AddField(
            model_name="seedset",
            name="kinds",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(choices=KINDS, max_length=16),
                blank=True,
                default=list,
                size=None,
            ),
        ),
        migrations.RunSQL(RENAME, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="seed",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind__in", [k for k, _ in KINDS])),
                name="seed_kind_valid",
            ),
        ),
    ]

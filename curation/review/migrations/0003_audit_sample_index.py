# The sample history (curation/review/history.py) looks audit events up by after->'sample'.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0001_initial"),
        ("review", "0002_claim_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS audit_after_sample "
            "ON projects_auditevent ((after -> 'sample'))",
            "DROP INDEX IF EXISTS audit_after_sample",
        ),
    ]

from django.apps import AppConfig


class DedupConfig(AppConfig):
    name = "curation.dedup"
    label = "dedup"

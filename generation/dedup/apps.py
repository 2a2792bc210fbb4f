from django.apps import AppConfig


class DedupConfig(AppConfig):
    name = "generation.dedup"
    label = "dedup"

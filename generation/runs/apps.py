from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "generation.runs"
    label = "runs"

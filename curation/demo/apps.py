from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "curation.demo"
    label = "demo"
    verbose_name = "Demo data"

from django.apps import AppConfig


class SeedsConfig(AppConfig):
    name = "curation.seeds"
    label = "seeds"

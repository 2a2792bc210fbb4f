from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "curation.projects"
    label = "projects"

from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "curation.projects"
    label = "projects"

    def ready(self) -> None:
        from curation.projects import throttle  # noqa: F401  (connects the sign-in signals)

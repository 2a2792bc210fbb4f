from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "curation.review"
    label = "review"

    def ready(self) -> None:
        from curation.review import routing
        from curation.samples.signals import samples_stored

        samples_stored.connect(routing.route, dispatch_uid="review.routing.route")

from django.urls import path

from generation.runs import run_views

app_name = "runs"
urlpatterns = [
    path("projects/<int:project_id>/runs/", run_views.run_list, name="list"),
    path("projects/<int:project_id>/runs/new/", run_views.run_new, name="new"),
    path("runs/<int:run_id>/", run_views.run_detail, name="detail"),
    path("runs/<int:run_id>/<str:action>/", run_views.run_action, name="action"),
    path("projects/<int:project_id>/endpoints/", run_views.endpoints, name="endpoints"),
    path("endpoints/<int:endpoint_id>/test/", run_views.endpoint_test, name="endpoint_test"),
    path(
        "projects/<int:project_id>/recipes/<str:recipe_id>/prompts/",
        run_views.prompts,
        name="prompts",
    ),
]

from django.urls import path

from generation.runs import views, views_tools

app_name = "runs"
urlpatterns = [
    path("projects/<int:project_id>/runs/", views.run_list, name="list"),
    path("projects/<int:project_id>/runs/new/", views.run_new, name="new"),
    path("projects/<int:project_id>/tool-cache/", views_tools.tool_cache, name="tool_cache"),
    path("runs/<int:run_id>/", views.run_detail, name="detail"),
    path("runs/<int:run_id>/<str:action>/", views.run_action, name="action"),
    path(
        "projects/<int:project_id>/recipes/<str:recipe_id>/prompts/",
        views.prompts,
        name="prompts",
    ),
]

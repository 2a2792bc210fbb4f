from django.urls import path

from curation.dedup import views

app_name = "dedup"
urlpatterns = [
    path("projects/<int:project_id>/duplicates/", views.clusters, name="clusters"),
    path("projects/<int:project_id>/duplicates/rescan/", views.rescan, name="rescan"),
    path("projects/<int:project_id>/search/", views.semantic_search, name="search"),
    path("dedup-jobs/<int:job_id>/", views.job_progress, name="job"),
    path(
        "duplicate-clusters/<int:cluster_id>/<str:action>/",
        views.cluster_action,
        name="action",
    ),
    path("samples/<int:sample_id>/similar/", views.similar, name="similar"),
]

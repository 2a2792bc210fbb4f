from django.urls import path

from curation.projects import views

app_name = "projects"
urlpatterns = [
    path("projects/", views.project_list, name="list"),
    path("projects/new/", views.project_create, name="create"),
    path("projects/<int:project_id>/", views.project_detail, name="detail"),
    path("projects/<int:project_id>/members/", views.members, name="members"),
    path(
        "projects/<int:project_id>/members/<int:member_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("projects/<int:project_id>/audit/", views.audit_log, name="audit"),
    path("projects/<int:project_id>/endpoints/", views.endpoints, name="endpoints"),
    path("endpoints/<int:endpoint_id>/test/", views.endpoint_test, name="endpoint_test"),
    path("projects/tokens/", views.tokens, name="tokens"),
    path("projects/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]

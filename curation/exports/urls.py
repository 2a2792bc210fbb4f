from django.urls import path

from curation.exports import views

app_name = "exports"
urlpatterns = [
    path("projects/<int:project_id>/exports/", views.export_list, name="list"),
    path("projects/<int:project_id>/exports/import/", views.import_dataset, name="import"),
    path("exports/<int:export_id>/", views.export_detail, name="detail"),
    path("exports/<int:export_id>/download/", views.download, name="download"),
    path("exports/<int:export_id>/files/<str:name>", views.download, name="file"),
]

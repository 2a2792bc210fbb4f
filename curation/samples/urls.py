from django.urls import path

from curation.samples import views

app_name = "samples"
urlpatterns = [
    path("projects/<int:project_id>/samples/", views.sample_list, name="list"),
    path("samples/<int:sample_id>/", views.sample_detail, name="detail"),
]

from django.urls import path

from generation.runs import views

app_name = "runs"
urlpatterns = [
    path("projects/<int:project_id>/samples/", views.sample_list, name="samples"),
    path("samples/<int:sample_id>/", views.sample_detail, name="sample"),
]

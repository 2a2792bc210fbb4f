from django.urls import path

from curation.seeds import views

app_name = "seeds"
urlpatterns = [
    path("projects/<int:project_id>/seeds/upload/", views.upload, name="upload"),
    path("seed-sets/<int:seed_set_id>/", views.detail, name="detail"),
    path("seed-sets/<int:seed_set_id>/delete/", views.delete, name="delete"),
]

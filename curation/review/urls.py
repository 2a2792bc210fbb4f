from django.urls import path

from curation.review import views

app_name = "review"
urlpatterns = [
    path("projects/<int:project_id>/queues/", views.queue_list, name="queues"),
    path("queues/<int:queue_id>/", views.queue_detail, name="queue"),
    path("projects/<int:project_id>/samples/bulk/", views.bulk, name="bulk"),
    path("queues/<int:queue_id>/review/", views.review, name="review"),
    path("queues/<int:queue_id>/undo/", views.undo, name="undo"),
    path("queues/<int:queue_id>/questions/", views.add_question, name="add_question"),
    path("assignments/<int:assignment_id>/submit/", views.submit, name="submit"),
    path("assignments/<int:assignment_id>/skip/", views.skip, name="skip"),
    path("samples/<int:sample_id>/history/", views.sample_history, name="history"),
    path("items/<int:item_id>/adjudicate/", views.adjudicate, name="adjudicate"),
]

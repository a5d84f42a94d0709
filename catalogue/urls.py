from django.urls import path

from catalogue import views

app_name = "catalogue"

urlpatterns = [
    path("", views.search, name="search"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset_detail"),
    path("datasets/<int:pk>/edit/", views.dataset_edit, name="dataset_edit"),
    path("datasets/<int:pk>/status/", views.dataset_status, name="dataset_status"),
    path("datasets/<int:pk>/ingest/", views.dataset_ingest, name="dataset_ingest"),
    path("datasets/<int:pk>/reviewed/", views.dataset_reviewed, name="dataset_reviewed"),
    path("nodes/new/", views.node_create, name="node_create"),
    path("nodes/<int:pk>/", views.node_detail, name="node_detail"),
    path("nodes/<int:pk>/gate/", views.node_gate_profile, name="node_gate_profile"),
    path("nodes/<int:node_pk>/datasets/new/", views.dataset_create, name="dataset_create"),
    path("feasibility/", views.feasibility, name="feasibility"),
    path("basket/", views.basket, name="basket"),
    path("basket/<int:pk>/add/", views.basket_add, name="basket_add"),
    path("basket/<int:pk>/remove/", views.basket_remove, name="basket_remove"),
]

"""Addresses of the HealthDCAT-AP exports (included by portal/urls.py without a namespace)."""

from django.urls import path

from catalogue import views_dcat

urlpatterns = [
    path("catalogue/dcat.ttl", views_dcat.catalogue_ttl, name="dcat_catalogue_ttl"),
    path("catalogue/dcat.jsonld", views_dcat.catalogue_jsonld, name="dcat_catalogue_jsonld"),
    path("catalogue/datasets/<int:pk>/dcat.ttl", views_dcat.dataset_ttl, name="dcat_dataset_ttl"),
    path(
        "catalogue/datasets/<int:pk>/dcat.jsonld",
        views_dcat.dataset_jsonld,
        name="dcat_dataset_jsonld",
    ),
]

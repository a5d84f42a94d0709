"""The FHIR API's routes, mounted at ``/fhir/`` (``portal/urls.py``). Logical ids follow FHIR's
id pattern; version ids are numbers."""

from django.urls import path, re_path

from consent.fhir_api import views

app_name = "fhir"

ID = r"(?P<id>[A-Za-z0-9\-.]{1,64})"

urlpatterns = [
    path("metadata", views.metadata_view, name="metadata"),
    path("Consent", views.consents_view, name="consents"),
    re_path(rf"^Consent/{ID}$", views.consent_view, name="consent"),
    re_path(rf"^Consent/{ID}/_history$", views.history_view, name="history"),
    re_path(rf"^Consent/{ID}/_history/(?P<vid>[0-9]{{1,12}})$", views.vread_view, name="vread"),
]

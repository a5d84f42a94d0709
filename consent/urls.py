from django.urls import path

from consent.views import citizen, operator

app_name = "consent"

urlpatterns = [
    path("donation/", citizen.donation_form, name="donation_form"),
    path("donation/withdraw/", citizen.donation_withdraw, name="donation_withdraw"),
    path("opt-out/", citizen.opt_out_record, name="opt_out_record"),
    path("opt-out/revoke/", citizen.opt_out_revoke, name="opt_out_revoke"),
    path("history/", citizen.history, name="history"),
    path("history/<str:record_id>/<int:version>/fhir/", citizen.version_fhir, name="version_fhir"),
    path("links/", citizen.links, name="links"),
    path("links/<int:pk>/remove/", citizen.link_remove, name="link_remove"),
    path("link-codes/", operator.link_code_nodes, name="link_code_nodes"),
    path("nodes/<int:pk>/link-codes/", operator.link_codes, name="link_codes"),
]

from django.urls import path

from access.views import (
    applications,
    committees,
    documents,
    donor,
    figures,
    node_connection,
    nodes,
    page,
    permits,
    register,
    results,
    reviews,
    tokens,
)

app_name = "access"

urlpatterns = [
    path("committees/", committees.committee_list, name="committee_list"),
    path("committees/new/", committees.committee_create, name="committee_create"),
    path("committees/<int:pk>/", committees.committee_detail, name="committee_detail"),
    path(
        "committees/<int:pk>/members/",
        committees.committee_member_add,
        name="committee_member_add",
    ),
    path(
        "committees/<int:pk>/members/<int:user_pk>/remove/",
        committees.committee_member_remove,
        name="committee_member_remove",
    ),
    path("applications/", applications.application_list, name="application_list"),
    path("applications/new/", applications.application_create, name="application_create"),
    path("applications/<int:pk>/", page.application_detail, name="application_detail"),
    path("applications/<int:pk>/edit/", applications.application_edit, name="application_edit"),
    path("applications/<int:pk>/team/", applications.application_team_invite, name="team_invite"),
    path(
        "applications/<int:pk>/withdraw/",
        applications.application_withdraw,
        name="application_withdraw",
    ),
    path(
        "applications/<int:pk>/answer/", applications.application_answer, name="application_answer"
    ),
    path(
        "applications/<int:pk>/comments/",
        applications.application_comment,
        name="application_comment",
    ),
    path("applications/<int:pk>/ethics/", applications.application_ethics_file, name="ethics_file"),
    path("applications/<int:pk>/extend/", page.application_extend, name="application_extend"),
    path("reviews/<int:pk>/conflict/", reviews.review_conflict, name="review_conflict"),
    path("reviews/<int:pk>/vote/", reviews.review_vote, name="review_vote"),
    path("reviews/<int:pk>/clarify/", reviews.review_clarify, name="review_clarify"),
    path("reviews/<int:pk>/comments/", reviews.review_comment, name="review_comment"),
    path("reviews/<int:pk>/decide/", reviews.review_decide, name="review_decide"),
    path("invitations/<str:token>/", applications.invitation, name="invitation"),
    path("permits/", permits.permit_list, name="permit_list"),
    path("permits/<int:pk>/", permits.permit_detail, name="permit_detail"),
    path("permits/<int:pk>/change/", permits.permit_change, name="permit_change"),
    # Access tokens: issued from the permit page, revoked from it
    path("permits/<int:pk>/tokens/", tokens.token_issue, name="token_issue"),
    path("tokens/<int:pk>/revoke/", tokens.token_revoke, name="token_revoke"),
    # The access body's figures and activity report (EHDS Art 59)
    path("figures/", figures.figures_page, name="figures"),
    path("figures/report/", figures.figures_report, name="figures_report"),
    path("figures.csv", figures.figures_csv, name="figures_csv"),
    # The public register and the information for citizens: public by design (docs/register.md)
    path("register/", register.register_list, name="register"),
    path("register/feed.atom", register.register_feed, name="register_feed"),
    path("register/<int:pk>/", register.register_entry, name="register_entry"),
    path(
        "register/<int:pk>/entry.jsonld",
        register.register_entry_jsonld,
        name="register_entry_jsonld",
    ),
    path("your-data/", register.citizen_information, name="citizen_information"),
    # Its working pages: the access body's notices and clocks, the holder's results
    path("applications/<int:pk>/publish/", results.decision_publish, name="decision_publish"),
    path("permits/<int:pk>/results/", results.permit_results, name="permit_results"),
    path("permits/<int:pk>/results/extend/", results.results_extend, name="results_extend"),
    # What a donor sees of the use of their data
    path("my-data/", donor.donor_uses, name="donor_uses"),
    # Connecting a node: its secret, its report key, its gatekeeper's configuration
    path("node-connections/", node_connection.node_connection_list, name="node_connection_list"),
    path("node-connections/<int:pk>/", node_connection.node_connection, name="node_connection"),
    # Published for nodes (anyone may fetch them)
    path("status-lists/<int:list_id>", documents.status_list, name="status_list"),
    # Asked by nodes, with their own credentials
    path("nodes/reports", nodes.access_reports, name="node_reports"),
    path("nodes/datasets/<int:pk>/index", nodes.dataset_index, name="node_dataset_index"),
    path("nodes/<path:audience>/study-map", nodes.study_map, name="study_map"),
    path("nodes/<path:audience>/exclusions", nodes.exclusions, name="exclusions"),
    path("orthanc/validate", nodes.orthanc_validate, name="orthanc_validate"),
]

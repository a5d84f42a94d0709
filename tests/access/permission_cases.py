"""The access pages' rows of the permission matrix (tests/test_permissions.py).

The matrix requests each route with an empty body. Pages answer 200 to the people who may see
them; an empty POST from a person who may act shows the form again with its errors (200), or,
where nothing is required, acts and redirects (302). Everyone else gets 404, and signed-out
visitors are sent to the login page.
"""

from tests.test_permissions import everyone, only, signed_in

# The applicant, both committees' chair, Oslo's member and the access body.
SUBMITTED_READERS = ("researcher", "committee_member", "committee_chair", "hdab_admin")
OSLO_MEMBERS = ("committee_member", "committee_chair")
PERMIT_READERS_NOT_NAMED = ("committee_member", "committee_chair", "hdab_admin")
ETHICS_FILE = "ethics/permission-matrix/approval.pdf"

ACCESS_PAGE_CASES = [
    ("access:committee_list", None, "get", only("hdab_admin")),
    ("access:figures", None, "get", only("hdab_admin")),
    ("access:figures_report", None, "get", only("hdab_admin")),
    ("access:figures_csv", None, "get", only("hdab_admin")),
    ("access:committee_create", None, "get", only("hdab_admin")),
    ("access:committee_detail", "page_committee", "get", only("hdab_admin")),
    ("access:committee_member_add", "page_committee", "post", only("hdab_admin")),  # no person
    ("access:committee_member_remove", "page_committee_member", "post",
     only("hdab_admin", ok=302)),
    ("access:application_list", None, "get", only("researcher")),
    ("access:application_create", None, "get", only("researcher")),
    ("access:application_create", None, "post", only("researcher")),  # no title
    ("access:application_detail", "page_draft", "get", only("researcher")),
    ("access:application_detail", "page_submitted", "get", only(*SUBMITTED_READERS)),
    ("access:application_edit", "page_draft", "get", only("researcher")),
    ("access:application_edit", "page_draft", "post", only("researcher")),  # no title
    ("access:application_edit", "page_submitted", "get", only("researcher", ok=302)),  # to detail
    ("access:team_invite", "page_draft", "post", only("researcher")),  # no email
    ("access:application_withdraw", "page_draft", "get", only("researcher")),
    ("access:application_withdraw", "page_submitted", "post", only("researcher", ok=302)),
    ("access:application_answer", "page_submitted", "post", only("researcher")),  # no answer
    ("access:application_comment", "page_submitted", "post", only("researcher")),  # no text
    ("access:ethics_file", "page_ethics", "get", only(*SUBMITTED_READERS)),
    ("access:ethics_file", "page_submitted", "get", signed_in(404)),  # no file
    ("access:application_extend", "page_submitted", "post",
     only("committee_chair", "hdab_admin")),  # no reason
    ("access:review_conflict", "page_oslo_review", "post", only(*OSLO_MEMBERS)),  # to confirm
    ("access:review_vote", "page_oslo_review", "post", only(*OSLO_MEMBERS)),  # no choice
    ("access:review_clarify", "page_oslo_review", "post", only(*OSLO_MEMBERS)),  # no question
    ("access:review_comment", "page_valencia_review", "post", only("committee_chair")),
    ("access:review_decide", "page_oslo_review", "post",
     {**only("committee_chair"), "committee_member": 403}),  # a member sees it: 403
    ("access:invitation", "page_invitation", "get", only("citizen")),  # addressed to the citizen
    ("access:permit_list", None, "get", only(*SUBMITTED_READERS)),
    ("access:permit_detail", "page_permit", "get", only(*SUBMITTED_READERS)),
    ("access:permit_change", "page_permit", "post",  # who sees it but may not change it: 403
     {**only("committee_chair", "hdab_admin"), "researcher": 403, "committee_member": 403}),
    # Tokens: the permit names the researcher; those who see the permit without being named
    # on it are told why not (403); an empty form is shown again with its error (200)
    ("access:token_issue", "page_permit", "post",
     {**only("researcher"), **dict.fromkeys(PERMIT_READERS_NOT_NAMED, 403)}),
    ("access:token_revoke", "page_token", "post",
     only("researcher", "committee_chair", "hdab_admin", ok=302)),
    # What a donor sees of the use of their data: citizens only, each their own
    ("access:donor_uses", None, "get", only("citizen")),
    # Connecting a node: its operators and the access body (an empty POST: the forms again)
    ("access:node_connection_list", None, "get", only("node_operator", "hdab_admin")),
    ("access:node_connection", "own_node", "get", only("node_operator", "hdab_admin")),
    ("access:node_connection", "own_node", "post", only("node_operator", "hdab_admin")),
    ("access:node_connection", "other_node", "get", only("hdab_admin")),
    # Published for anyone; asked by nodes with their own credentials (none here: 401)
    ("access:status_list", "page_status_list", "get", everyone(200)),
    ("jwks", None, "get", everyone(200)),
    ("oauth_metadata", None, "get", everyone(200)),
    ("oauth_introspect", None, "post", everyone(401)),
    ("access:orthanc_validate", None, "post", everyone(401)),
    ("access:study_map", "page_study_map", "get", everyone(401)),
    ("access:exclusions", "page_study_map", "get", everyone(401)),
    ("access:node_reports", None, "post", everyone(401)),
    ("access:node_dataset_index", "page_node_dataset", "get", everyone(401)),
    ("access:node_dataset_index", "page_node_dataset", "post", everyone(401)),
]  # fmt: skip


def access_url_kwargs(access) -> dict:
    """URL kwargs for the cases above: ``access``'s draft and submitted applications, another
    submitted one with an ethics approval, the submitted one's two reviews, an invitation sent
    to the citizen, an Oslo permit (the chair approved for both committees), a token issued to
    the researcher under it, its status list and the Oslo node's study map."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from access import services
    from access.models import Application, Permit, Review
    from portal.models import User

    researcher = access.draft.applicant
    chair = User.objects.get(username="committee_chair")
    invitation = services.team_invite(
        application=access.new_application("Invited study"),
        actor=researcher,
        email="citizen@example.org",
    )
    # One stored file for every run of the matrix, rather than one upload per case.
    if not default_storage.exists(ETHICS_FILE):
        default_storage.save(ETHICS_FILE, ContentFile(b"%PDF-1.4\n%%EOF\n"))
    with_ethics = access.new_application("Study with ethics approval", submit=True)
    Application.objects.filter(pk=with_ethics.pk).update(ethics_approval=ETHICS_FILE)
    decided = access.new_application("Study with a permit", submit=True)
    for review in decided.reviews.all():
        services.review_decide(review=review, actor=chair, approve=True)

    def review(committee):
        return {"pk": Review.objects.get(application=access.submitted, committee=committee).pk}

    permit = Permit.objects.get(application=decided, review__committee=access.oslo)
    token = services.token_issue(
        permit=permit, node=permit.datasets.get().node, actor=researcher
    ).record
    return {
        "page_token": {"pk": token.pk},
        "page_status_list": {"list_id": token.status_list_id},
        "page_study_map": {"audience": token.node.audience},
        "page_node_dataset": {"pk": permit.datasets.get().pk},
        "page_committee": {"pk": access.oslo.pk},
        "page_committee_member": {"pk": access.oslo.pk, "user_pk": chair.pk},
        "page_draft": {"pk": access.draft.pk},
        "page_submitted": {"pk": access.submitted.pk},
        "page_ethics": {"pk": with_ethics.pk},
        "page_oslo_review": review(access.oslo),
        "page_valencia_review": review(access.valencia),
        "page_invitation": {"token": invitation.token},
        "page_permit": {"pk": permit.pk},
    }

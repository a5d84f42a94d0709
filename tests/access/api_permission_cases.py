"""The access API's rows of the permission matrix (tests/test_permissions.py).

The matrix requests each route with an empty body. The API reads JSON only, so a caller who
passes the access check and then has the (empty, form-encoded) body read gets 415; everyone
else gets 404 (not visible) or, signed out, 403.
"""

from tests.test_permissions import api_only, everyone

UNSUPPORTED = 415  # passed the access check; the body was not JSON

# The applicant, both committees' chair, Oslo's member and the access body.
SUBMITTED_READERS = ("researcher", "committee_member", "committee_chair", "hdab_admin")
OSLO_MEMBERS = ("committee_member", "committee_chair")
SIGNED_IN = {**everyone(200), "anonymous": 403}  # lists: each caller sees their own selection

ACCESS_API_CASES = [
    ("access_api:applications", None, "get", SIGNED_IN),
    ("access_api:applications", None, "post", {**everyone(403), "researcher": UNSUPPORTED}),
    ("access_api:application", "api_draft", "get", api_only("researcher")),
    ("access_api:application", "api_submitted", "get", api_only(*SUBMITTED_READERS)),
    ("access_api:application", "api_draft", "patch", api_only("researcher")),  # empty change
    ("access_api:application", "api_submitted", "patch", api_only("researcher", ok=409)),
    ("access_api:application_ethics", "api_draft", "post", api_only("researcher", ok=400)),
    ("access_api:application_submit", "api_draft", "post", api_only("researcher")),
    ("access_api:application_missing", "api_draft", "get", api_only("researcher")),
    ("access_api:application_missing", "api_submitted", "get", api_only("researcher")),
    ("access_api:application_withdraw", "api_draft", "post",
     api_only("researcher", ok=UNSUPPORTED)),
    ("access_api:application_team", "api_draft", "post", api_only("researcher", ok=UNSUPPORTED)),
    ("access_api:application_clarification_answer", "api_submitted", "post",
     api_only("researcher", ok=UNSUPPORTED)),
    ("access_api:application_comments", "api_submitted", "get", api_only(*SUBMITTED_READERS)),
    ("access_api:application_comments", "api_draft", "get", api_only("researcher")),
    ("access_api:application_comments", "api_submitted", "post",
     api_only(*SUBMITTED_READERS, ok=UNSUPPORTED)),
    ("access_api:application_extend_deadline", "api_submitted", "post",
     api_only(*SUBMITTED_READERS, ok=UNSUPPORTED)),
    ("access_api:reviews", None, "get", SIGNED_IN),
    ("access_api:review", "api_oslo_review", "get", api_only(*OSLO_MEMBERS)),
    ("access_api:review_conflict", "api_oslo_review", "post",
     api_only(*OSLO_MEMBERS, ok=UNSUPPORTED)),
    ("access_api:review_vote", "api_oslo_review", "post", api_only(*OSLO_MEMBERS, ok=UNSUPPORTED)),
    ("access_api:review_clarification", "api_oslo_review", "post",
     api_only(*OSLO_MEMBERS, ok=UNSUPPORTED)),
    ("access_api:review_terms", "api_oslo_review", "post",  # a member, not the chair: 403
     {**api_only("committee_chair", ok=UNSUPPORTED), "committee_member": 403}),
    ("access_api:review_decide", "api_oslo_review", "post",  # a member, not the chair: 403
     {**api_only("committee_chair", ok=UNSUPPORTED), "committee_member": 403}),
    ("access_api:invitation", "api_invitation", "post", api_only("citizen", ok=UNSUPPORTED)),
    ("access_api:permits", None, "get", SIGNED_IN),
    ("access_api:permit", "api_permit", "get", api_only(*SUBMITTED_READERS)),
    ("access_api:permit_change", "api_permit", "post",  # who sees it but may not change it: 403
     {**api_only("committee_chair", "hdab_admin", ok=UNSUPPORTED),
      "researcher": 403, "committee_member": 403}),
    ("access_api:permit_tokens", "api_permit", "get", api_only(*SUBMITTED_READERS)),
    ("access_api:permit_tokens", "api_permit", "post",
     api_only(*SUBMITTED_READERS, ok=UNSUPPORTED)),  # the service then says who may (403)
    ("access_api:permit_results", "api_permit", "get", api_only("researcher")),  # the holder
    ("access_api:permit_results", "api_permit", "put", api_only("researcher", ok=400)),  # no body
    ("access_api:permit_result_outputs", "api_permit", "post",
     api_only("researcher", ok=UNSUPPORTED)),
    ("access_api:permit_result_output", "api_output", "delete", api_only("researcher", ok=204)),
    ("access_api:token", "api_token", "get", api_only(*SUBMITTED_READERS)),
    ("access_api:token_revoke", "api_token", "post",
     api_only("researcher", "committee_chair", "hdab_admin", ok=UNSUPPORTED)),
]  # fmt: skip


def access_api_url_kwargs(access) -> dict:
    """URL kwargs for the cases above: ``access``'s draft and submitted applications, the Oslo
    review of the submitted one, an invitation sent to the citizen, an Oslo permit and a token
    issued under it to the researcher, and an output of its results."""
    from access import services
    from access.models import Permit, Review
    from portal.models import User

    researcher = access.draft.applicant
    chair = User.objects.get(username="committee_chair")
    invitation = services.team_invite(
        application=access.new_application("Team study"),
        actor=researcher,
        email="citizen@example.org",
    )
    decided = access.new_application("Permitted study", submit=True)
    for review in decided.reviews.all():
        services.review_decide(review=review, actor=chair, approve=True)
    permit = Permit.objects.get(application=decided, review__committee=access.oslo)
    token = services.token_issue(permit=permit, node=permit.datasets.get().node, actor=researcher)
    output = services.result_output_add(
        permit=permit, actor=researcher, kind="software", title="Code", reference="https://x.org"
    )
    return {
        "api_token": {"pk": token.record.pk},
        "api_draft": {"pk": access.draft.pk},
        "api_submitted": {"pk": access.submitted.pk},
        "api_oslo_review": {
            "pk": Review.objects.get(application=access.submitted, committee=access.oslo).pk
        },
        "api_invitation": {"token": invitation.token},
        "api_permit": {"pk": permit.pk},
        "api_output": {"pk": permit.pk, "output_pk": output.pk},
    }

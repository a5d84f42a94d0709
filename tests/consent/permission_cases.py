"""The consent pages' rows of the permission matrix (tests/test_permissions.py).

Citizens' pages answer the citizen alone; everyone else gets 404 (signed-out visitors are sent
to the login page), and another citizen's link or consent is 404 for the citizen too. The
matrix's citizen has revoked an opt-out and linked images at Oslo, and has no donation: pages
that end what is not in force send them back to their dashboard (302). An empty POST shows the
form again with its errors (200), and a POST that is not confirmed shows the confirmation page
(200). The link codes of a node answer its operators alone.
"""

from tests.test_permissions import only

CONSENT_PAGE_CASES = [
    ("consent:donation_form", None, "get", only("citizen")),
    ("consent:donation_form", None, "post", only("citizen")),  # nothing chosen
    ("consent:donation_withdraw", None, "get", only("citizen", ok=302)),  # no donation
    ("consent:donation_withdraw", None, "post", only("citizen", ok=302)),
    ("consent:opt_out_record", None, "get", only("citizen")),  # the confirmation page
    ("consent:opt_out_record", None, "post", only("citizen")),  # not confirmed
    ("consent:opt_out_revoke", None, "get", only("citizen", ok=302)),  # revoked already
    ("consent:history", None, "get", only("citizen")),
    ("consent:version_fhir", "consent_own_version", "get", only("citizen")),
    ("consent:version_fhir", "consent_other_version", "get", only()),
    ("consent:links", None, "get", only("citizen")),
    ("consent:links", None, "post", only("citizen")),  # no code
    ("consent:link_remove", "consent_own_link", "get", only("citizen")),
    ("consent:link_remove", "consent_other_link", "get", only()),
    ("consent:link_remove", "consent_other_link", "post", only()),
    ("consent:link_code_nodes", None, "get", only("node_operator")),
    ("consent:link_codes", "own_node", "get", only("node_operator")),
    ("consent:link_codes", "own_node", "post", only("node_operator")),  # no pseudonym
    ("consent:link_codes", "other_node", "get", only()),
]


def consent_url_kwargs(personas, catalogue) -> dict:
    """URL kwargs for the cases above: the citizen's revoked opt-out (version 1) and their link
    at Oslo; another citizen's opt-out and link."""
    from consent import selectors, services
    from consent.models import ConsentRecord
    from portal.models import Role
    from tests.factories import UserFactory

    citizen = personas["citizen"]
    other = UserFactory(username="matrix_other_citizen", roles=[Role.CITIZEN])
    operator = personas["node_operator"]
    links = {}
    for person, subject in ((citizen, "oslo-matrix-1"), (other, "oslo-matrix-2")):
        _code, code = services.link_code_issue(
            node=catalogue.own_node, subject=subject, actor=operator
        )
        links[person.pk] = services.link_code_redeem(citizen=person, code=code)
    # The FHIR cases may have written the citizen's opt-out already: reuse it.
    own_record = selectors.consent_of_kind(citizen, ConsentRecord.Kind.OPT_OUT)
    if own_record is None:
        own_record = services.opt_out_record(citizen=citizen).record
    if selectors.current_version(own_record).status == "active":
        services.opt_out_revoke(record=own_record, citizen=citizen)
    theirs = services.opt_out_record(citizen=other)
    return {
        "consent_own_version": {"record_id": own_record.pk, "version": 1},
        "consent_other_version": {"record_id": theirs.record_id, "version": 1},
        "consent_own_link": {"pk": links[citizen.pk].pk},
        "consent_other_link": {"pk": links[other.pk].pk},
    }

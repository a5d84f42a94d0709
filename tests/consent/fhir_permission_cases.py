"""The FHIR API's rows of the permission matrix (tests/test_permissions.py).

The matrix requests each route with an empty body. Without a session the FHIR API answers 403
(as the portal's JSON API does) but for its capabilities. The citizen owns the consent, linked
at the node the node operator runs; the access body and that operator read it, and may not
change it (403); everyone else gets 404. A write by the owner passes the access check and is
then refused for its (form-encoded) body: 415. Searches answer everyone signed in, each with
what they may see; only citizens create.
"""

from catalogue.models import Node
from consent import services
from portal.models import User
from tests.consent.r5_examples import example
from tests.test_permissions import everyone, signed_in

UNSUPPORTED = 415  # passed the access check; the body was not FHIR JSON
SESSION_NEEDED = 403


def fhir_only(*personas, ok=200, readers_write=None):
    cases = {**signed_in(404), "anonymous": SESSION_NEEDED, **dict.fromkeys(personas, ok)}
    if readers_write is not None:
        cases.update(hdab_admin=readers_write, node_operator=readers_write)
    return cases


READERS = ("citizen", "hdab_admin", "node_operator")

FHIR_CASES = [
    ("fhir:metadata", None, "get", everyone(200)),
    ("fhir:consents", None, "get", {**everyone(200), "anonymous": SESSION_NEEDED}),
    ("fhir:consents", None, "post",
     {**everyone(403), "citizen": UNSUPPORTED}),  # only citizens create
    ("fhir:consent", "fhir_consent", "get", fhir_only(*READERS)),
    ("fhir:consent", "fhir_consent", "put",
     fhir_only("citizen", ok=UNSUPPORTED, readers_write=403)),
    ("fhir:history", "fhir_consent", "get", fhir_only(*READERS)),
    ("fhir:vread", "fhir_version", "get", fhir_only(*READERS)),
]  # fmt: skip


def fhir_url_kwargs(personas, own_node: Node) -> dict:
    """The citizen's consent, the citizen linked at ``own_node`` (run by the node operator)."""
    citizen: User = personas["citizen"]
    _code, code = services.link_code_issue(
        node=own_node, subject="oslo-matrix", actor=personas["node_operator"]
    )
    services.link_code_redeem(citizen=citizen, code=code)
    version = services.consent_write_fhir(
        resource=example("research", patient=citizen.pseudonym), actor=citizen
    )
    return {
        "fhir_consent": {"id": version.record_id},
        "fhir_version": {"id": version.record_id, "vid": version.version},
    }

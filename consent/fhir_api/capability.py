"""The CapabilityStatement at ``/fhir/metadata``: what this server does, in FHIR R5's terms,
checked with fhir.resources before it is served."""

from typing import Any

from django.conf import settings
from fhir.resources.capabilitystatement import CapabilityStatement

from consent.fhir_api.search import DEFAULT_COUNT, MAX_COUNT

# When what the statement says last changed (CapabilityStatement.date).
CHANGED = "2026-11-30"
SEARCH_PARAMETER = "http://hl7.org/fhir/SearchParameter/"


def _search_param(name: str, kind: str, definition: str, documentation: str) -> dict[str, str]:
    found = {"name": name, "type": kind, "documentation": documentation}
    if definition:
        found["definition"] = SEARCH_PARAMETER + definition
    return found


SEARCH_PARAMS = [
    _search_param(
        "patient",
        "reference",
        "clinical-patient",
        "Whose consent: Patient/<pseudonym> or <pseudonym>.",
    ),
    _search_param("status", "token", "Consent-status", "The Consent's status code."),
    _search_param(
        "date",
        "date",
        "clinical-date",
        "Consent.date, with the prefixes eq, ne, lt, le, gt, ge, sa and eb; partial dates "
        "mean the range they name.",
    ),
    _search_param(
        "_lastUpdated",
        "date",
        "Resource-lastUpdated",
        "When the current version was stored, with the same prefixes.",
    ),
    _search_param(
        "_count",
        "number",
        "",
        f"Results per page: {DEFAULT_COUNT} by default, at most {MAX_COUNT}; 0 gives the "
        "total only. Pages are numbered by _page, which the Bundle's links carry.",
    ),
]


def capability_statement(base_url: str) -> dict[str, Any]:
    """The statement for the server at ``base_url`` (the address of ``/fhir``), as FHIR JSON."""
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": CHANGED,
        "publisher": settings.HDAB_NAME,
        "kind": "instance",
        "description": (
            "Citizens' consents to the secondary use of their images, as FHIR R5 Consent. "
            "Signed-in citizens read and write their own; the health data access body and "
            "the operators of imaging nodes where a citizen linked their images read them."
        ),
        "software": {"name": "ECII governance, consent and access portal"},
        "implementation": {"description": "Consent API of the portal", "url": base_url},
        "fhirVersion": "5.0.0",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": (
                        "The portal's session: sign in to the portal and send its session "
                        "cookie, and for create and update the CSRF token in X-CSRFToken. "
                        "Without a session the API answers 403."
                    )
                },
                "resource": [
                    {
                        "type": "Consent",
                        "documentation": (
                            "Each write is a new version; a version is never changed. "
                            "Unknown search parameters are refused (400) unless the request "
                            "says Prefer: handling=lenient."
                        ),
                        "interaction": [
                            {"code": code}
                            for code in (
                                "read",
                                "vread",
                                "history-instance",
                                "search-type",
                                "create",
                                "update",
                            )
                        ],
                        "versioning": "versioned-update",
                        "readHistory": True,
                        "updateCreate": False,
                        "conditionalCreate": False,
                        "conditionalRead": "full-support",
                        "conditionalUpdate": False,
                        "conditionalPatch": False,
                        "conditionalDelete": "not-supported",
                        "searchParam": SEARCH_PARAMS,
                    }
                ],
            }
        ],
    }
    model = CapabilityStatement.model_validate(statement)
    checked: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return checked

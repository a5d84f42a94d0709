"""The FHIR interactions on Consent: capabilities, read, vread, history, search, create and
update. Thin: the access checks are ``consent.selectors``', the writes ``consent.services``'.

Who may do what: the citizen whose consent it is reads and writes it; the access body and the
operators of a node where its owner linked their images read it (every such read is in the
audit chain); anyone else gets 404, as for a consent that does not exist. Committees read no
consent: they see only the counts of allowed subjects on the review page.
"""

import re
from typing import Any

from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from consent import selectors, services
from consent.fhir import Issue, instant, operation_outcome
from consent.fhir_api.capability import capability_statement
from consent.fhir_api.common import (
    FhirError,
    conditional,
    endpoint,
    fhir_response,
    read_resource,
    version_headers,
)
from consent.fhir_api.search import (
    HISTORY_PARAMETERS,
    SEARCH_PARAMETERS,
    Query,
    bundle_links,
    parse,
)
from consent.models import ConsentRecord, ConsentVersion
from portal.models import Role, User

# The largest version number the database holds (a PositiveIntegerField).
MAX_VERSION = 2**31 - 1


def _absolute(request: HttpRequest, name: str, **kwargs: Any) -> str:
    return request.build_absolute_uri(reverse(f"fhir:{name}", kwargs=kwargs or None))


def _resource_url(request: HttpRequest, record_id: str) -> str:
    return _absolute(request, "consent", id=record_id)


def _version_url(request: HttpRequest, version: ConsentVersion) -> str:
    return _absolute(request, "vread", id=version.record_id, vid=version.version)


def _answer(
    version: ConsentVersion, *, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    return fhir_response(
        version.resource, status=status, headers={**version_headers(version), **(headers or {})}
    )


# ---------------------------------------------------------------------------------------------
# Capabilities


def metadata(request: HttpRequest, _user: None) -> HttpResponse:
    base = request.build_absolute_uri(reverse("fhir:metadata")).removesuffix("/metadata")
    return fhir_response(capability_statement(base))


# ---------------------------------------------------------------------------------------------
# Reading


def read(request: HttpRequest, user: User, id: str) -> HttpResponse:
    record = selectors.access_consent(user, id)
    version = selectors.current_version(record)
    services.consent_reads_record(reader=user, records=[record], interaction="read")
    return conditional(request, version, _answer(version))


def vread(request: HttpRequest, user: User, id: str, vid: str) -> HttpResponse:
    record = selectors.access_consent(user, id)
    number = int(vid)
    if not 1 <= number <= MAX_VERSION:
        raise FhirError(404, f"Consent/{id} has no version {vid}.")
    version = selectors.version_of(record, number)
    services.consent_reads_record(
        reader=user, records=[record], interaction="vread", version=number
    )
    return conditional(request, version, _answer(version))


def _bundle(kind: str, base: str, query: Query, total: int) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "timestamp": instant(timezone.now()),
        "total": total,
        "link": bundle_links(base, query, total),
    }


def history(request: HttpRequest, user: User, id: str) -> HttpResponse:
    """The versions of one consent, newest first, paged like a search."""
    record = selectors.access_consent(user, id)
    query = parse(request, HISTORY_PARAMETERS)
    versions = selectors.versions_of(record).filter(query.where)
    total = versions.count()
    page = list(versions[query.offset : query.offset + query.count]) if query.count else []
    bundle = _bundle("history", _absolute(request, "history", id=id), query, total)
    entries = []
    for version in page:
        created = version.version == 1
        entries.append(
            {
                "fullUrl": _resource_url(request, id),
                "resource": version.resource,
                "request": {
                    "method": "POST" if created else "PUT",
                    "url": "Consent" if created else f"Consent/{id}",
                },
                "response": {
                    "status": "201 Created" if created else "200 OK",
                    "etag": f'W/"{version.version}"',
                    "lastModified": instant(version.last_updated),
                },
            }
        )
    if entries:
        bundle["entry"] = entries
    services.consent_reads_record(reader=user, records=[record], interaction="history-instance")
    return fhir_response(bundle, headers={"Cache-Control": "no-store"})


def search(request: HttpRequest, user: User) -> HttpResponse:
    """The current versions of the consents the caller may see that match, newest update
    first; two queries whatever the page size (the total and the page)."""
    query = parse(request, SEARCH_PARAMETERS)
    versions = (
        ConsentVersion.objects.filter(
            record__in=selectors.consents_visible_to(user).values("pk"),
            version=F("record__current_version"),
        )
        .filter(query.where)
        .select_related("record")
        .order_by("-last_updated", "record_id")
    )
    total = versions.count()
    page = list(versions[query.offset : query.offset + query.count]) if query.count else []
    bundle = _bundle("searchset", _absolute(request, "consents"), query, total)
    if page:
        bundle["entry"] = [
            {
                "fullUrl": _resource_url(request, version.record_id),
                "resource": version.resource,
                "search": {"mode": "match"},
            }
            for version in page
        ]
    services.consent_reads_record(
        reader=user, records=[v.record for v in page], interaction="search-type"
    )
    return fhir_response(bundle, headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------------------------------------
# Writing


def _prefer_return(request: HttpRequest) -> str:
    for part in re.split(r"[,;]", request.headers.get("Prefer", "")):
        name, _, value = part.strip().partition("=")
        if name.strip() == "return" and value.strip() in ("minimal", "OperationOutcome"):
            return value.strip()
    return "representation"


def _written(
    request: HttpRequest, version: ConsentVersion, *, status: int, message: str
) -> HttpResponse:
    headers = {"Location": _version_url(request, version)}
    preferred = _prefer_return(request)
    if preferred == "minimal":
        return fhir_response(None, status=status, headers={**version_headers(version), **headers})
    if preferred == "OperationOutcome":
        outcome = operation_outcome([Issue("", message, "informational", "information")])
        return fhir_response(
            outcome, status=status, headers={**version_headers(version), **headers}
        )
    return _answer(version, status=status, headers=headers)


def _write(**kwargs: Any) -> ConsentVersion:
    try:
        return services.consent_write_fhir(**kwargs)
    except services.InvalidConsent as refusal:
        raise FhirError(400, refusal.issues) from None
    except services.ConsentConflict as conflict:
        raise FhirError(412 if conflict.code == "version" else 409, conflict.issues) from None


def _citizen(user: User) -> User:
    if not user.has_role(Role.CITIZEN):
        raise FhirError(403, "Only citizens record consents, each their own.")
    return user


def create(request: HttpRequest, user: User) -> HttpResponse:
    """A new consent of the signed-in citizen (``id`` and ``meta`` of the body are ignored,
    as FHIR has it: the server names what it creates)."""
    _citizen(user)
    resource = read_resource(request)
    version = _write(resource=resource, actor=user)
    return _written(request, version, status=201, message=f"Created {version}.")


def _if_match(request: HttpRequest) -> int | None:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or not 1 <= int(value) <= MAX_VERSION:
        raise FhirError(412, 'If-Match names a version: W/"<versionId>".')
    return int(value)


def update(request: HttpRequest, user: User, id: str) -> HttpResponse:
    """A new version of the citizen's own consent ``id``: the body's ``id`` is the same,
    and ``If-Match`` (when sent) names the current version."""
    record: ConsentRecord = selectors.access_consent(user, id, for_write=True)
    if_match = _if_match(request)
    resource = read_resource(request)
    if isinstance(resource, dict) and resource.get("id") != id:
        said = resource.get("id")
        raise FhirError(
            400,
            [
                Issue(
                    "Consent.id",
                    f"The id in the body ({said}) is not the id in the address ({id})."
                    if said is not None
                    else f"An update carries the Consent's id ({id}).",
                    "invalid" if said is not None else "required",
                )
            ],
        )
    version = _write(resource=resource, actor=user, record=record, if_match=if_match)
    return _written(request, version, status=200, message=f"Stored {version}.")


metadata_view = endpoint({"GET": metadata}, public=True)
consents_view = endpoint({"GET": search, "POST": create})
consent_view = endpoint({"GET": read, "PUT": update})
history_view = endpoint({"GET": history})
vread_view = endpoint({"GET": vread})

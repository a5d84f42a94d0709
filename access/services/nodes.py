"""The portal's side of its conversation with the nodes: node credentials, the study map a node
syncs, the access reports it sends back, and the token checks a node may ask for online (RFC
7662 introspection and the Orthanc authorization plugin's validation call).

A node authenticates as itself with HTTP Basic (``client_secret_basic``, RFC 6749 2.3.1): its
client id is its ``audience``, its secret is shown once when made and kept only as a SHA-256
hash.
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from access import signing
from access.models import AccessToken, NodeAccessEvent, NodeAccessReport, NodeCredential, Permit
from access.node.claims import ALGORITHMS, TOKEN_TYPE, AccessClaims, InvalidClaims
from access.node.headers import IndexBatch, InvalidBatch
from access.node.headers import read_batch as read_index_batch
from access.node.reports import REPORT_TYPE, AccessReport, InvalidReport, read_batch
from access.node.studies import MAP_TYPE, StudyMap
from access.selectors import published_signing_keys, study_map_rows
from access.services import keys
from access.services.common import InvalidTransition, _record
from access.services.exclusions import consent_refusal
from catalogue.ingest import IngestReport, dataset_index_headers
from catalogue.models import Dataset, Instance, Node, Series, Study
from portal.models import User

SECRET_HASH = "sha256"  # noqa: S105 (the name of a hash function)
MAX_TOKEN_BYTES = 8192  # the node's verifier reads no larger token
NBF_LEEWAY = 30  # seconds a token's nbf may be ahead of the portal's clock


# --- Credentials ------------------------------------------------------------------------------


def _hash_secret(secret: str) -> str:
    return f"{SECRET_HASH}${hashlib.sha256(secret.encode()).hexdigest()}"


def _credential(node: Node) -> NodeCredential:
    credential, _created = NodeCredential.objects.select_for_update().get_or_create(node=node)
    return credential


@transaction.atomic
def node_secret_issue(*, node: Node, actor: User | None = None) -> str:
    """A new secret for ``node``, replacing any earlier one at once. Returned once, to be
    shown once; only its hash is kept."""
    credential = _credential(node)
    secret = secrets.token_urlsafe(32)
    credential.secret_hash = _hash_secret(secret)
    credential.secret_set_at = timezone.now()
    credential.save(update_fields=["secret_hash", "secret_set_at"])
    _record("access.node.secret_issued", actor, node, node=node.audience)
    return secret


@transaction.atomic
def node_key_register(
    *, node: Node, jwk: Mapping[str, Any], actor: User | None = None
) -> NodeCredential:
    """Register the public key ``node`` signs its access reports with: a P-256 (ES256) or
    Ed25519 public JWK. A private key is refused (it must never leave the node). Its ``kid`` is
    kept, or its RFC 7638 thumbprint when it has none."""
    if not isinstance(jwk, Mapping) or "d" in jwk:
        raise InvalidTransition(_("Give the node's public key (a JWK without its private part)."))
    alg = signing.algorithm_of(jwk)
    if alg is None or alg not in ALGORITHMS:
        raise InvalidTransition(_("The node's key must be a P-256 (ES256) or Ed25519 key."))
    public = signing.public_part(jwk)
    try:
        key = signing.import_key(public, alg)
    except signing.SigningError as error:
        raise InvalidTransition(str(error)) from None
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        kid = key.thumbprint()
    credential = _credential(node)
    credential.public_jwk = signing.published_jwk(kid, alg, public)
    credential.key_set_at = timezone.now()
    credential.save(update_fields=["public_jwk", "key_set_at"])
    _record("access.node.key_registered", actor, node, node=node.audience, kid=kid, alg=alg)
    return credential


def _basic(authorization: str) -> tuple[str, str] | None:
    """Client id and secret of an HTTP Basic ``Authorization`` value (each form-urlencoded
    before Base64, RFC 6749 2.3.1; a node's secret never holds a colon, so the last colon
    separates them even when the id, an audience such as ``urn:ecii:node:oslo``, was not
    encoded)."""
    scheme, _space, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    client_id, colon, secret = decoded.rpartition(":")
    if not colon or not client_id or not secret:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def node_authenticate(authorization: str | None) -> Node | None:
    """The node whose credentials ``authorization`` holds, or None."""
    pair = _basic(authorization or "")
    if pair is None:
        return None
    client_id, secret = pair
    credential = (
        NodeCredential.objects.select_related("node")
        .filter(node__audience=client_id)
        .exclude(secret_hash="")
        .first()
    )
    # Compare a hash even for an unknown node, so the answer takes the same time.
    stored = credential.secret_hash if credential else _hash_secret("")
    if not hmac.compare_digest(_hash_secret(secret), stored) or credential is None:
        return None
    return credential.node


# --- The study map ----------------------------------------------------------------------------


def study_map_uri(node: Node) -> str:
    return settings.SITE_URL + reverse("access:study_map", args=[node.audience])


def study_map_document(node: Node) -> str:
    """The signed ``studymap+jwt`` of ``node``: every study of its published datasets, with
    the dataset's identifier and the subject's pseudonym; ``ttl`` is ``STUDY_MAP_TTL`` and
    ``exp`` is ``STUDY_MAP_LIFETIME`` after ``iat``."""
    studies = StudyMap.from_rows(node.audience, study_map_rows(node))
    iat = int(timezone.now().timestamp())
    claims = {
        "iss": settings.SITE_URL,
        "sub": study_map_uri(node),
        "aud": node.audience,
        "iat": iat,
        "exp": iat + settings.STUDY_MAP_LIFETIME,
        "ttl": settings.STUDY_MAP_TTL,
        "studies": studies.to_claims(),
    }
    return keys.sign(claims, MAP_TYPE)


# --- Access reports in ------------------------------------------------------------------------
# The batch format is access.node.reports: the node writes it and the portal reads it with the
# same code, so the two cannot drift apart.


class ReportRefused(Exception):
    """A batch the portal will not store; ``str()`` says why. ``retry`` is true when the node
    should send it again later (its key, or the key it now signs with, is not registered yet),
    false when it never will be accepted."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def access_report_receive(*, node: Node, document: bytes) -> tuple[NodeAccessReport, bool]:
    """Store a batch of access reports ``node`` signed with its registered key (a JWT of type
    ``accessreport+jwt`` whose ``iss`` is the node), once: a batch whose ``jti`` was stored
    already is answered with the stored one and ``False``. One audit event per batch."""
    credential = NodeCredential.objects.filter(node=node).first()
    jwk = credential.public_jwk if credential else None
    if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
        raise ReportRefused(_("The node has no registered report key."), retry=True)
    kid = _signed_with(document)
    if isinstance(kid, str) and kid != jwk["kid"]:
        # A rotated key not registered yet: the node keeps the batch and sends it again.
        raise ReportRefused(
            _("The batch is signed with the key %(kid)s; the node's registered key is %(reg)s.")
            % {"kid": kid[:100], "reg": jwk["kid"]},
            retry=True,
        )
    try:
        claims = signing.verify(document, {jwk["kid"]: jwk}, typ=REPORT_TYPE)
    except signing.Unverified as error:
        raise ReportRefused(_("The batch does not verify: %s.") % error) from None
    if claims.get("iss") != node.audience:
        raise ReportRefused(_("The batch was not made by this node."))
    try:
        batch = read_batch(claims)
    except InvalidReport as error:
        raise ReportRefused(str(error)) from None
    stored = NodeAccessReport.objects.filter(node=node, jti=batch.jti).first()
    if stored is not None:
        return stored, False
    try:
        with transaction.atomic():
            report = _store(node, batch)
    except IntegrityError:  # the same batch, sent twice at once
        return NodeAccessReport.objects.get(node=node, jti=batch.jti), False
    return report, True


def _signed_with(document: bytes) -> object:
    """The ``kid`` a batch's header names, unverified; None for what is not a compact JWS (the
    verification then says why)."""
    try:
        return signing.read_header(document.decode("ascii").strip()).get("kid")
    except (signing.Unverified, UnicodeDecodeError):
        return None


def _store(node: Node, batch: AccessReport) -> NodeAccessReport:
    report = NodeAccessReport.objects.create(
        node=node, jti=batch.jti, issued_at=_moment(batch.iat), event_count=len(batch.events)
    )
    jtis = {event.jti for event in batch.events if event.jti}
    tokens = dict(AccessToken.objects.filter(node=node, jti__in=jtis).values_list("jti", "pk"))
    NodeAccessEvent.objects.bulk_create(
        NodeAccessEvent(
            report=report,
            node=node,
            token_jti=event.jti or "",
            token_id=tokens.get(event.jti or ""),
            study_instance_uid=event.study or "",
            time=_moment(event.time),
            decision=event.decision,
            reason=event.reason or "",
        )
        for event in batch.events
    )
    refused = sum(event.decision == NodeAccessEvent.Decision.REFUSED for event in batch.events)
    _record(
        "access.node.report_received",
        None,
        report,
        node=node.audience,
        batch=batch.jti,
        events=len(batch.events),
        refused=refused,
    )
    return report


# --- Header index batches from the node's indexer ---------------------------------------------


class IndexRefused(Exception):
    """A header index batch the portal will not store; ``str()`` says why. ``conflict`` is
    true when the node's indexer must look again before sending (its gate profile is not the
    node's), false when the batch itself is at fault."""

    def __init__(self, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict


def node_dataset(node: Node, pk: int) -> Dataset | None:
    """The dataset ``pk`` if it belongs to ``node`` and is not retired; None otherwise (the
    caller answers 404 either way)."""
    return (
        Dataset.objects.select_related("node")
        .filter(pk=pk, node=node)
        .exclude(status=Dataset.Status.RETIRED)
        .first()
    )


def dataset_index_receive(*, node: Node, dataset: Dataset, body: bytes) -> IngestReport:
    """Index a batch of header values (:mod:`access.node.headers`) the node's indexer sent for
    one of its own datasets: whole, or nothing if anything is wrong with it. The batch must
    have passed the gate the node has chosen (``Node.gate_profile``)."""
    try:
        batch: IndexBatch = read_index_batch(json.loads(body))
    except (UnicodeDecodeError, ValueError) as error:
        message = str(error) if isinstance(error, InvalidBatch) else _("The body is not JSON.")
        raise IndexRefused(message) from None
    if batch.gate_profile != node.gate_profile:
        raise IndexRefused(
            _("The node's de-identification gate is %(node)s; the batch passed %(batch)s.")
            % {"node": node.gate_profile, "batch": batch.gate_profile},
            conflict=True,
        )
    headers = [instance.as_result() for instance in batch.instances]
    return dataset_index_headers(
        dataset=dataset,
        headers=headers,
        gate_profile=batch.gate_profile,
        refused=batch.refused,
        unreadable=batch.unreadable,
        source=f"node indexer ({node.audience})",
    )


# --- Checking a token for a node --------------------------------------------------------------


@dataclass(frozen=True)
class TokenCheck:
    """What the portal says of a token a node asks about: whether it is active for that node
    now (and if not, why), and its claims and record when it is."""

    active: bool
    reason: str = ""
    claims: AccessClaims | None = None
    record: AccessToken | None = None


def token_check(token: str, node: Node, *, now: float | None = None) -> TokenCheck:
    """Whether ``token`` may be used at ``node`` now: signed by one of the portal's published
    keys as an ``at+jwt``, issued by this portal for this node, within ``nbf`` and ``exp``, and
    its record's status VALID under an active permit that has not ended. Anything else is
    inactive, with the reason."""
    if not token or len(token) > MAX_TOKEN_BYTES:
        return TokenCheck(False, "malformed")
    published = {key.kid: key.public_jwk for key in published_signing_keys()}
    try:
        claims = AccessClaims.from_claims(signing.verify(token, published, typ=TOKEN_TYPE))
    except signing.Unverified as error:
        return TokenCheck(False, f"unverified: {error}")
    except InvalidClaims as error:
        return TokenCheck(False, f"bad claims: {error}")
    moment = timezone.now().timestamp() if now is None else now
    if claims.iss != settings.SITE_URL:
        return TokenCheck(False, "bad issuer")
    if claims.aud != node.audience:
        return TokenCheck(False, "another node's token")
    if moment >= claims.exp:
        return TokenCheck(False, "expired")
    if moment + NBF_LEEWAY < claims.nbf:
        return TokenCheck(False, "not yet valid")
    record = AccessToken.objects.select_related("permit").filter(jti=claims.jti, node=node).first()
    if record is None:
        return TokenCheck(False, "unknown token")
    if record.status != AccessToken.Status.VALID:
        return TokenCheck(False, AccessToken.Status(record.status).label.lower())
    if record.permit.status != Permit.Status.ACTIVE:
        return TokenCheck(False, f"permit {record.permit.status}")
    if record.permit.ends_on < timezone.localdate():
        return TokenCheck(False, "permit ended")
    return TokenCheck(True, claims=claims, record=record)


def introspection(token: str, node: Node) -> dict[str, Any]:
    """The RFC 7662 answer for ``node``: ``{"active": false}`` for anything not valid for that
    node now, else the token's claims."""
    check = token_check(token, node)
    if not check.active or check.claims is None:
        return {"active": False}
    claims = check.claims
    return {
        "active": True,
        "token_type": "Bearer",
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "nbf": claims.nbf,
        "jti": claims.jti,
        "permit": claims.permit,
        "purpose": claims.purpose,
        "datasets": list(claims.datasets),
    }


def _datasets_of_study(uid: str) -> QuerySet[Study, int]:
    return Study.objects.filter(study_instance_uid=uid).values_list("dataset", flat=True)


def _datasets_of_series(uid: str) -> QuerySet[Series, int]:
    return Series.objects.filter(series_instance_uid=uid).values_list("study__dataset", flat=True)


def _datasets_of_instance(uid: str) -> QuerySet[Instance, int]:
    return Instance.objects.filter(sop_instance_uid=uid).values_list(
        "series__study__dataset", flat=True
    )


# The study (its dataset's identifier and its subject) of a dicom-uid at each level.
_STUDY_OF: dict[str, tuple[type[Study] | type[Series] | type[Instance], str, str]] = {
    "study": (Study, "study_instance_uid", ""),
    "series": (Series, "series_instance_uid", "study__"),
    "instance": (Instance, "sop_instance_uid", "series__study__"),
}


def _consent_refusal(node: Node, claims: AccessClaims, level: str, uid: str) -> str:
    """What the node's exclusion list says of the study of ``uid`` under the token's permit
    (see ``access.services.exclusions.consent_refusal``)."""
    model, field, path = _STUDY_OF[level]
    found = (
        model.objects.filter(**{field: uid, f"{path}dataset__node": node})
        .values_list(f"{path}dataset__identifier", f"{path}subject")
        .first()
    )
    if found is None:
        return "study_not_permitted"
    dataset, subject = found
    return consent_refusal(
        node,
        permit=claims.permit,
        permit_iat=claims.permit_iat,
        dataset=str(dataset),
        subject=subject,
    )


# The levels of the Orthanc authorization plugin's calls whose dicom-uid this portal can place
# in a study, and how to find the study's datasets from it.
_UID_LEVELS: dict[str, Callable[[str], QuerySet[Any, int]]] = {
    "study": _datasets_of_study,
    "series": _datasets_of_series,
    "instance": _datasets_of_instance,
}


@dataclass(frozen=True)
class OrthancAnswer:
    granted: bool
    validity: int  # seconds the plugin may keep the answer; never 0 (0 is "for ever" to it)
    reason: str = ""

    def as_json(self) -> dict[str, object]:
        return {"granted": self.granted, "validity": self.validity}


def _bearer(value: object) -> str:
    if not isinstance(value, str):
        return ""
    scheme, _space, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else value.strip()


def orthanc_validate(
    body: Mapping[str, Any], node: Node, *, now: float | None = None
) -> OrthancAnswer:
    """The answer to the Orthanc authorization plugin's validation call from ``node``: granted
    only to a GET of a study, series or instance (``level`` and ``dicom-uid``) belonging to one
    of the token's datasets at that node, published, with an active token, whose subject the
    node's consent exclusion list does not exclude under the token's permit. ``validity`` is
    never longer than the token's remaining life nor than ``STATUS_LIST_TTL``, and never 0:
    with less than a second left the answer is a refusal. Searches (``level: system``) and
    the patient level are refused: this call cannot filter what a search returns."""
    ttl = settings.STATUS_LIST_TTL
    moment = timezone.now().timestamp() if now is None else now

    def refuse(reason: str) -> OrthancAnswer:
        return OrthancAnswer(False, ttl, reason)

    check = token_check(_bearer(body.get("token-value")), node, now=moment)
    if not check.active or check.claims is None:
        return refuse(check.reason)
    if str(body.get("method", "")).lower() != "get":
        return refuse("read only")
    level, uid = body.get("level"), body.get("dicom-uid")
    lookup = _UID_LEVELS.get(str(level))
    if lookup is None or not isinstance(uid, str) or not uid:
        return refuse(f"level {level!r} is not granted to tokens")
    covered = Dataset.objects.filter(
        pk__in=lookup(uid),
        node=node,
        status=Dataset.Status.PUBLISHED,
        identifier__in=check.claims.datasets,
    ).exists()
    if not covered:
        return refuse("study not permitted")
    excluded = _consent_refusal(node, check.claims, str(level), uid)
    if excluded:
        return refuse(excluded)
    validity = min(int(check.claims.exp - moment), ttl)
    if validity < 1:
        return refuse("expires within a second")
    return OrthancAnswer(True, validity)

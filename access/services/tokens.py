"""Access tokens: issuing one to a permit's authorised person for one node, revoking it, keeping
each token's status-list entry in step with its permit, and the signed status lists.

A token is a JWT access token (RFC 9068) with the claims of ``access.node.claims``, signed with
the portal's active key (``access.services.keys``). Its holder sees it once; the portal keeps
its record (``AccessToken``), never the token. Each token holds one entry of a Token Status
List; suspending a permit marks its tokens SUSPENDED, reactivating marks them VALID again,
revoking or expiring it, or revoking the token, marks them INVALID, in the same transaction.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from access import status_indices
from access.models import AccessToken, Permit, TokenStatusList
from access.node.claims import MAX_LIFETIME, SCOPE_READ, TOKEN_TYPE, AccessClaims
from access.node.statuslist import LIST_TYPE, StatusList, list_claims
from access.permissions import may_issue_token, may_revoke_token
from access.services import keys
from access.services.common import InvalidTransition, NotPermitted, _record
from catalogue.models import Node
from portal.models import User

MIN_LIFETIME = 60  # seconds: a token shorter than this is no use to anyone

# The status of a permit's tokens while the permit is in each state.
TOKEN_STATUS_OF_PERMIT = {
    Permit.Status.ACTIVE: AccessToken.Status.VALID,
    Permit.Status.SUSPENDED: AccessToken.Status.SUSPENDED,
    Permit.Status.REVOKED: AccessToken.Status.INVALID,
    Permit.Status.EXPIRED: AccessToken.Status.INVALID,
}


def status_list_uri(list_id: int) -> str:
    """A status list's absolute URL: its ``sub``, and the ``uri`` in the tokens it holds."""
    return settings.SITE_URL + reverse("access:status_list", args=[list_id])


def permit_end(permit: Permit) -> datetime:
    """The moment a permit ends: the end of its last day (``ends_on``), local time."""
    return timezone.make_aware(datetime.combine(permit.ends_on + timedelta(days=1), time.min))


def check_lifetime(lifetime: int | None) -> int:
    """The lifetime asked for, or ``ACCESS_TOKEN_LIFETIME``; from a minute to the setting,
    which is at most an hour (``MAX_LIFETIME``)."""
    longest = min(settings.ACCESS_TOKEN_LIFETIME, MAX_LIFETIME)
    if lifetime is None:
        return longest
    if not MIN_LIFETIME <= lifetime <= longest:
        raise ValidationError(
            {
                "lifetime": _("A token lasts from %(min)s to %(max)s seconds.")
                % {"min": MIN_LIFETIME, "max": longest}
            }
        )
    return lifetime


def _check_state(permit: Permit, today: date) -> None:
    """The permit allows tokens today: it is active and today is within its dates (an ended
    permit is refused even before ``expire_permits`` has marked it expired)."""
    if permit.status != Permit.Status.ACTIVE:
        raise InvalidTransition(
            _("Permit %(number)s is %(status)s: no token can be issued under it.")
            % {"number": permit.number, "status": permit.get_status_display().lower()}
        )
    if permit.ends_on < today:
        raise InvalidTransition(
            _("Permit %(number)s ended on %(day)s: no token can be issued under it.")
            % {"number": permit.number, "day": f"{permit.ends_on:%Y-%m-%d}"}
        )
    if permit.starts_on > today:
        raise InvalidTransition(
            _("Permit %(number)s starts on %(day)s.")
            % {"number": permit.number, "day": f"{permit.starts_on:%Y-%m-%d}"}
        )


def check_issue(permit: Permit, node: Node, actor: User, today: date) -> list[str]:
    """Why no token may be issued, as the error to show; else the identifiers of the datasets
    at ``node`` that ``permit`` grants. The reasons: the actor is not named on the permit
    (NotPermitted), the permit is not active or has ended, even before ``expire_permits`` ran
    (InvalidTransition), or it grants nothing at that node (ValidationError on ``node``)."""
    if not may_issue_token(actor, permit):
        raise NotPermitted(
            _("Tokens under permit %s are issued only to the people it authorises.") % permit.number
        )
    _check_state(permit, today)
    datasets = sorted(
        str(identifier)
        for identifier in permit.datasets.filter(node=node).values_list("identifier", flat=True)
    )
    if not datasets:
        raise ValidationError(
            {
                "node": _("Permit %(number)s grants no dataset at %(node)s.")
                % {"number": permit.number, "node": node.name}
            }
        )
    return datasets


# One statement takes the next entry of the newest list that has room: concurrent issuers
# queue on the list's row only for that statement (in a transaction of its own, committed at
# once).
_NEXT_ENTRY = """
    UPDATE {table} SET next_index = next_index + 1
    WHERE id = (SELECT id FROM {table} WHERE next_index < capacity ORDER BY id DESC LIMIT 1)
      AND next_index < capacity
    RETURNING id, next_index - 1, capacity, index_key
"""


def _next_entry(sql: str, *, asynchronous: bool) -> tuple[Any, ...] | None:
    if not asynchronous:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            row: tuple[Any, ...] | None = cursor.fetchone()
            return row
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(sql)
        row = cursor.fetchone()
        return row


def _allocate_entry() -> tuple[int, int]:
    """The next free entry of the current status list, ``(list id, index)``, at the index the
    list's key draws for it (``access.status_indices``); a new list when the current one is
    full. An entry whose token is then refused stays unused and valid.

    On PostgreSQL the statement commits on its own without waiting for the disk (asynchronous
    commit): the token's transaction commits after it and waits for the disk, which writes the
    log in order, so an entry is durable before any token that uses it is; an entry lost in a
    crash belonged to no token. That spares one disk flush per token (milliseconds on some
    disks; docs/benchmarks.md)."""
    sql = _NEXT_ENTRY.format(table=connection.ops.quote_name(TokenStatusList._meta.db_table))
    asynchronous = connection.vendor == "postgresql" and not connection.in_atomic_block
    while True:
        row = _next_entry(sql, asynchronous=asynchronous)
        if row is not None:
            list_id, n, capacity, key = row
            index = n if key is None else status_indices.index_of(bytes(key), n, capacity)
            return int(list_id), index
        with transaction.atomic():
            created = TokenStatusList.objects.create(
                capacity=settings.STATUS_LIST_SIZE, index_key=status_indices.new_key()
            )
            _record("access.status_list.created", None, created, capacity=created.capacity)


def _lock_permit(pk: int) -> Permit:
    """The permit, read and locked against a change of its status until this transaction
    ends. On PostgreSQL the lock is shared (FOR SHARE): tokens are issued in parallel, and a
    suspension or revocation waits until they are committed, so that it then marks them
    too."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Permit._meta.db_table)
        locked = list(
            Permit.objects.raw(f"SELECT * FROM {table} WHERE id = %s FOR SHARE", [pk])  # noqa: S608
        )
        return locked[0]
    return Permit.objects.select_for_update().get(pk=pk)


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: the JWT (shown once, never stored), its record and its claims."""

    token: str
    record: AccessToken
    claims: AccessClaims


def token_issue(
    *, permit: Permit, node: Node, actor: User, lifetime: int | None = None
) -> IssuedToken:
    """Issue ``actor`` a token for ``node`` under ``permit`` (refusals: :func:`check_issue`).
    It lasts ``lifetime`` seconds (at most ``ACCESS_TOKEN_LIFETIME``), never beyond the end of
    the permit's last day, and grants the permit's datasets at that node."""
    seconds = check_lifetime(lifetime)
    # Who, what and where are checked once: who is named on a permit and what it grants never
    # change once it is issued. Whether it allows tokens now is checked again under its lock.
    datasets = check_issue(permit, node, actor, timezone.localdate())
    list_id, index = _allocate_entry()
    with transaction.atomic():
        locked = _lock_permit(permit.pk)
        _check_state(locked, timezone.localdate())
        signer = keys.active_signer()
        now = timezone.now()
        iat = int(now.timestamp())
        exp = min(iat + seconds, int(permit_end(locked).timestamp()))
        claims = AccessClaims(
            iss=settings.SITE_URL,
            sub=actor.pseudonym,
            aud=node.audience,
            iat=iat,
            nbf=iat,
            exp=exp,
            jti=uuid.uuid4().hex,
            client_id=settings.TOKEN_CLIENT_ID,
            permit=locked.number,
            purpose=locked.purpose,
            scope=SCOPE_READ,
            datasets=tuple(datasets),
            status_idx=index,
            status_uri=status_list_uri(list_id),
            # The node applies opt-outs to permits approved from then on (EHDS Art 71(3)).
            permit_iat=int(locked.issued_at.timestamp()),
        )
        token = signer.sign(claims.to_claims(), TOKEN_TYPE)
        record = AccessToken.objects.create(
            jti=claims.jti,
            permit=locked,
            node=node,
            holder=actor,
            kid=signer.kid,
            scope=claims.scope,
            datasets=list(datasets),
            issued_at=datetime.fromtimestamp(iat, tz=now.tzinfo),
            expires_at=datetime.fromtimestamp(exp, tz=now.tzinfo),
            status_list_id=list_id,
            status_index=index,
        )
        _record(
            "access.token.issued",
            actor,
            record,
            jti=record.jti,
            permit=locked.number,
            node=node.audience,
            datasets=datasets,
            expires_at=record.expires_at,
            status_list=list_id,
            status_index=index,
        )
    return IssuedToken(token=token, record=record, claims=claims)


@transaction.atomic
def token_revoke(*, token: AccessToken, actor: User, reason: str = "") -> AccessToken:
    """Revoke one token: its status-list entry becomes INVALID for good. Its holder, the
    permit's holder, the issuing committee's chair or the access body may; a token that has
    expired or was revoked already is refused."""
    locked = (
        AccessToken.objects.select_for_update()
        .select_related("permit__review__committee", "permit__application", "node")
        .get(pk=token.pk)
    )
    if not may_revoke_token(actor, locked):
        raise NotPermitted(_("Only the token's holder, the permit's holder, the issuing "
                             "committee's chair or the access body can revoke it."))  # fmt: skip
    if locked.revoked_at is not None:
        raise InvalidTransition(_("This token was revoked already."))
    now = timezone.now()
    if locked.expires_at <= now:
        raise InvalidTransition(_("This token has expired: no node accepts it any more."))
    locked.status = AccessToken.Status.INVALID
    locked.revoked_at = now
    locked.revoked_by = actor
    locked.revoke_reason = (reason or "").strip()
    locked.save(update_fields=["status", "revoked_at", "revoked_by", "revoke_reason"])
    _record(
        "access.token.revoked",
        actor,
        locked,
        jti=locked.jti,
        permit=locked.permit.number,
        node=locked.node.audience,
        reason=locked.revoke_reason,
    )
    return locked


def tokens_follow_permit(permit: Permit) -> int:
    """Set the status-list entries of ``permit``'s tokens to what its status now means
    (``TOKEN_STATUS_OF_PERMIT``), leaving tokens revoked on their own INVALID. Called by the
    permit services under the permit's lock, in their transaction; returns how many changed."""
    status = TOKEN_STATUS_OF_PERMIT[Permit.Status(permit.status)]
    return (
        AccessToken.objects.filter(permit=permit, revoked_at__isnull=True)
        .exclude(status=status)
        .update(status=status)
    )


# --- The status lists -------------------------------------------------------------------------


def status_list_document(list_id: int) -> str | None:
    """The signed ``statuslist+jwt`` of list ``list_id`` (None when there is no such list):
    ``capacity`` entries of two bits, each the status of the token holding it (VALID for
    entries nobody holds), valid for ``STATUS_LIST_TTL`` (``ttl``) and never used after
    ``exp``, twice that after ``iat``."""
    status_list = TokenStatusList.objects.filter(pk=list_id).first()
    if status_list is None:
        return None
    entries = StatusList(
        bits=status_list.bits, data=bytearray(status_list.capacity * status_list.bits // 8)
    )
    changed = (
        AccessToken.objects.filter(status_list=status_list)
        .exclude(status=AccessToken.Status.VALID)
        .values_list("status_index", "status")
    )
    for index, status in changed:
        entries.set(index, status)
    iat = int(timezone.now().timestamp())
    ttl = settings.STATUS_LIST_TTL
    claims = {
        "iss": settings.SITE_URL,
        **list_claims(
            uri=status_list_uri(status_list.pk),
            status_list=entries,
            iat=iat,
            ttl=ttl,
            exp=iat + 2 * ttl,
        ),
    }
    return keys.sign(claims, LIST_TYPE)

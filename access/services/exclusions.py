"""Each node's consent exclusion list (the wire format is ``access.node.exclusions``): kept
materialised in :class:`~access.models.ExclusionEntry` rows, changed only where a change
reaches, signed for the node whole or as a delta.

What changes it, in the transaction of the change:

- a subject's consent (a new version of a citizen's consent, a pseudonym linked or unlinked:
  ``consent.signals.subjects_changed``): that subject's entries at that node, decided again
  under every permit the list knows (:func:`exclusions_follow_subjects`);
- a permit issued, suspended, reactivated, revoked or expired: that permit's entries at each
  node of its datasets (:func:`exclusions_follow_permit`);
- :func:`exclusions_rebuild` decides a node's whole list again (``manage.py exclusion_lists
  rebuild``, daily: a donation whose period ends changes the decision with no write, and new
  studies bring new subjects, which under ``CONSENT_DEFAULT=deny`` are excluded).

Every transaction that changes entries raises the node's list ``version`` by one. An entry
removed is kept (``removed_in``) for ``EXCLUSION_DELTA_RETENTION`` versions, so a node holding a
recent version gets only the changes; older ones get the whole list.

The use of a permit is its EHDS purpose, the DUO codes its application declared plus the
conditions the use meets (non-commercial: NCU; with an ethics approval: IRB), and its approval
time (``Permit.issued_at``, the token's ``permit_iat``).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from access.models import ExclusionEntry, ExclusionListState, Permit
from access.node.exclusions import LIST_TYPE, Entries, ExclusionList, delta_claims, entries_of
from access.selectors import use_codes
from access.services import keys
from catalogue.models import Dataset, Node
from consent import selectors as consent_selectors

# Permits whose entries a node's list keeps: a suspended permit keeps them, so that they are
# right when it is reactivated (its tokens are refused by the status list meanwhile).
KNOWN = (Permit.Status.ACTIVE, Permit.Status.SUSPENDED)
Key = tuple[str, str, str, str]  # (kind, permit, dataset, subject)
Value = tuple[int, bool]  # (since, earlier_permits)


@dataclass(frozen=True)
class Use:
    """What a permit's consent decision reads."""

    purpose: str
    duo_codes: frozenset[str]
    approved_at: datetime


def use_of(permit: Permit) -> Use:
    """The use a permit grants (see the module's docstring)."""
    return Use(permit.purpose, use_codes(permit.application), permit.issued_at)


def _seconds(moment: datetime) -> int:
    return max(0, int(moment.timestamp()))


def _state(node: Node) -> ExclusionListState:
    """The node's list state, locked until the end of the transaction (versions are
    serialised per node)."""
    ExclusionListState.objects.get_or_create(node=node)
    return ExclusionListState.objects.select_for_update().get(node=node)


def _known_permits(node: Node) -> list[Permit]:
    return list(
        Permit.objects.filter(status__in=KNOWN, datasets__node=node)
        .select_related("application")
        .prefetch_related("datasets")
        .distinct()
    )


def _subject_entries(node: Node, subjects: Iterable[str] | None, at: datetime) -> dict[str, Value]:
    """The subjects whose consents deny every use at ``node`` (only ``subjects`` when given)."""
    refusals = consent_selectors.every_use_refusals([node.pk], subjects, at)
    return {subject: refusal for (_node, subject), refusal in refusals.items()}


def _covered(subject_entry: Value | None, approved: int) -> bool:
    """Whether a subject entry already refuses a permit approved at ``approved``."""
    if subject_entry is None:
        return False
    since, earlier = subject_entry
    return earlier or approved >= since


def _refusals(
    permit: Permit, datasets: list[Dataset], subjects: Iterable[str] | None, at: datetime
) -> dict[int, dict[str, Value]]:
    """The subjects of ``datasets`` (only ``subjects`` when given) whose consent does not allow
    ``permit``'s use, by dataset: one decision of the cohort, whatever the number of nodes."""
    if not datasets:
        return {}
    use = use_of(permit)
    return consent_selectors.exclusion_set(
        datasets=datasets,
        purpose=use.purpose,
        duo_codes=use.duo_codes,
        at=at,
        permit_approved_at=use.approved_at,
        subjects=subjects,
    )


def _permit_entries(
    node: Node,
    permit: Permit,
    subject_entries: dict[str, Value],
    refused: dict[int, dict[str, Value]],
) -> dict[Key, Value]:
    """The permit's own entries at ``node``: known, and the subjects of its datasets there
    that ``refused`` names, but for those a subject entry refuses already."""
    datasets = [d for d in permit.datasets.all() if d.node_id == node.pk]
    if not datasets:
        return {}
    approved = _seconds(permit.issued_at)
    wanted: dict[Key, Value] = {
        (ExclusionEntry.Kind.PERMIT, permit.number, "", ""): (approved, True)
    }
    excluded = ExclusionEntry.Kind.EXCLUDED
    for dataset in datasets:
        for subject, refusal in refused.get(dataset.pk, {}).items():
            if not _covered(subject_entries.get(subject), approved):
                wanted[(excluded, permit.number, dataset.identifier, subject)] = refusal
    return wanted


def _node_entries(
    node: Node,
    permit: Permit,
    subject_entries: dict[str, Value],
    subjects: Iterable[str] | None,
    at: datetime,
) -> dict[Key, Value]:
    """The permit's own entries at ``node``, decided for ``node``'s datasets only."""
    datasets = [d for d in permit.datasets.all() if d.node_id == node.pk]
    refused = _refusals(permit, datasets, subjects, at)
    return _permit_entries(node, permit, subject_entries, refused)


_INSERTED = ("kind", "permit", "dataset", "subject", "since", "earlier_permits")


def _insert(node: Node, version: int, rows: list[tuple[str, str, str, str, int, bool]]) -> None:
    """New entries of ``node`` added in ``version``: with COPY on PostgreSQL (a whole list is
    tens of thousands of rows, which COPY writes some ten times faster than INSERT)."""
    if connection.vendor != "postgresql":
        ExclusionEntry.objects.bulk_create(
            [
                ExclusionEntry(
                    node=node, added_in=version, **dict(zip(_INSERTED, row, strict=True))
                )
                for row in rows
            ],
            batch_size=2000,
        )
        return
    columns = ", ".join(("node_id", "added_in", *_INSERTED))
    with connection.cursor() as cursor:
        sql = f"COPY {ExclusionEntry._meta.db_table} ({columns}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row((node.pk, version, *row))


def _sync(node: Node, scope: Q, wanted: dict[Key, Value]) -> int:
    """Make the standing entries of ``node`` within ``scope`` be ``wanted``: entries that
    differ are removed and added in a new version. How many entries changed."""
    state = _state(node)
    standing = ExclusionEntry.objects.filter(scope, node=node, removed_in__isnull=True)
    current: dict[Key, tuple[Value, int]] = {}
    for pk, kind, permit, dataset, subject, since, earlier in standing.values_list(
        "pk", "kind", "permit", "dataset", "subject", "since", "earlier_permits"
    ):
        current[(kind, permit, dataset, subject)] = ((since, earlier), pk)
    gone = [pk for key, (value, pk) in current.items() if wanted.get(key) != value]
    new = [key for key, value in wanted.items() if key not in current or current[key][0] != value]
    if not gone and not new:
        return 0
    version = state.version + 1
    ExclusionEntry.objects.filter(pk__in=gone).update(removed_in=version)
    _insert(node, version, [(*key, *wanted[key]) for key in new])
    state.version = version
    state.changed_at = timezone.now()
    retention = settings.EXCLUSION_DELTA_RETENTION
    if version - state.oldest_delta > 2 * retention:
        # Forget removals older than the retention: deltas from before it are no longer made.
        state.oldest_delta = version - retention
        ExclusionEntry.objects.filter(node=node, removed_in__lte=state.oldest_delta).delete()
    state.save(update_fields=["version", "changed_at", "oldest_delta"])
    return len(gone) + len(new)


@transaction.atomic
def exclusions_follow_subjects(*, node: Node, subjects: Iterable[str]) -> int:
    """Decide ``subjects`` at ``node`` again, under every permit the list knows (after a
    consent of theirs changed, or their pseudonym was linked or unlinked)."""
    wanted_subjects = sorted(set(subjects))
    if not wanted_subjects:
        return 0
    at = timezone.now()
    subject_entries = _subject_entries(node, wanted_subjects, at)
    wanted: dict[Key, Value] = {
        (ExclusionEntry.Kind.SUBJECT, "", "", s): v for s, v in subject_entries.items()
    }
    for permit in _known_permits(node):
        for key, value in _node_entries(node, permit, subject_entries, wanted_subjects, at).items():
            if key[0] == ExclusionEntry.Kind.EXCLUDED:
                wanted[key] = value
    scope = Q(kind__in=[ExclusionEntry.Kind.SUBJECT, ExclusionEntry.Kind.EXCLUDED])
    return _sync(node, scope & Q(subject__in=wanted_subjects), wanted)


def _standing_subjects(node: Node) -> dict[str, Value]:
    rows = ExclusionEntry.objects.filter(
        node=node, kind=ExclusionEntry.Kind.SUBJECT, removed_in__isnull=True
    ).values_list("subject", "since", "earlier_permits")
    return {subject: (since, earlier) for subject, since, earlier in rows}


@transaction.atomic
def exclusions_follow_permit(*, permit: Permit) -> int:
    """Decide ``permit``'s entries again at every node of its datasets: all its subjects when
    it is in force (issued, reactivated), none when it has ended (revoked, expired)."""
    at = timezone.now()
    changed = 0
    nodes = Node.objects.filter(pk__in=permit.datasets.values("node_id")).order_by("pk")
    refused = {}
    if permit.status in KNOWN:  # one decision for all its datasets, at every node
        refused = _refusals(permit, list(permit.datasets.all()), None, at)
    for node in nodes:
        wanted: dict[Key, Value] = {}
        if permit.status in KNOWN:
            wanted = _permit_entries(node, permit, _standing_subjects(node), refused)
        scope = Q(kind__in=[ExclusionEntry.Kind.PERMIT, ExclusionEntry.Kind.EXCLUDED])
        changed += _sync(node, scope & Q(permit=permit.number), wanted)
    return changed


@transaction.atomic
def exclusions_rebuild(*, node: Node, at: datetime | None = None) -> int:
    """Decide the whole list of ``node`` again; how many entries changed."""
    at = at or timezone.now()
    subject_entries = _subject_entries(node, None, at)
    wanted: dict[Key, Value] = {
        (ExclusionEntry.Kind.SUBJECT, "", "", s): v for s, v in subject_entries.items()
    }
    for permit in _known_permits(node):
        wanted.update(_node_entries(node, permit, subject_entries, None, at))
    return _sync(node, Q(), wanted)


def consent_refusal(
    node: Node, *, permit: str, permit_iat: int | None, dataset: str, subject: str
) -> str:
    """Why the node's standing list refuses ``subject``'s study in ``dataset`` under
    ``permit`` (a reason code of ``access.node.reasons``), or "" when it does not: what the
    node's gatekeeper decides from its copy, for the checks the portal answers online."""
    rows = ExclusionEntry.objects.filter(node=node, removed_in__isnull=True).filter(
        Q(kind=ExclusionEntry.Kind.PERMIT, permit=permit)
        | Q(kind=ExclusionEntry.Kind.SUBJECT, subject=subject)
        | Q(kind=ExclusionEntry.Kind.EXCLUDED, permit=permit, dataset=dataset, subject=subject)
    )
    exclusions = ExclusionList.of(node.audience, 0, _entries(rows.values_list(*_COLUMNS)))
    reason = exclusions.refusal(
        permit=permit, permit_iat=permit_iat, dataset=dataset, subject=subject
    )
    return reason.value if reason is not None else ""


def follow_consent_change(pairs: Iterable[tuple[int, str]], **_kwargs: Any) -> None:
    """The receiver of ``consent.signals.subjects_changed``."""
    by_node: dict[int, set[str]] = defaultdict(set)
    for node_id, subject in pairs:
        by_node[node_id].add(subject)
    for node in Node.objects.filter(pk__in=by_node).order_by("pk"):
        exclusions_follow_subjects(node=node, subjects=by_node[node.pk])


# --- The signed documents ---------------------------------------------------------------------


def exclusion_list_uri(node: Node) -> str:
    return settings.SITE_URL + reverse("access:exclusions", args=[node.audience])


def etag_of(state: ExclusionListState) -> str:
    return f'"{state.node_id}-{state.version}"'


def _entries(rows: Iterable[tuple[str, str, str, str, int, bool]]) -> Entries:
    permits: list[str] = []
    excluded: list[tuple[str, str, str]] = []
    subjects: dict[str, tuple[int, bool]] = {}
    for kind, permit, dataset, subject, since, earlier in rows:
        if kind == ExclusionEntry.Kind.PERMIT:
            permits.append(permit)
        elif kind == ExclusionEntry.Kind.EXCLUDED:
            excluded.append((permit, dataset, subject))
        else:
            subjects[subject] = (since, earlier)
    return entries_of(permits=permits, excluded=excluded, subjects=subjects)


_COLUMNS = ("kind", "permit", "dataset", "subject", "since", "earlier_permits")


def current_entries(node: Node) -> Entries:
    """The node's standing entries (what a node holding the latest version has)."""
    rows = ExclusionEntry.objects.filter(node=node, removed_in__isnull=True)
    return _entries(rows.values_list(*_COLUMNS))


@dataclass(frozen=True)
class ExclusionDocument:
    """The signed list (or delta) and its ETag."""

    document: str
    etag: str
    version: int
    delta: bool


def exclusion_list_document(node: Node, *, since: int | None = None) -> ExclusionDocument:
    """The signed ``exclusionlist+jwt`` of ``node``: the changes since version ``since`` when
    they are still known (a delta), else the whole list."""
    state, _created = ExclusionListState.objects.get_or_create(node=node)
    version = state.version
    entries = ExclusionEntry.objects.filter(node=node)
    body: dict[str, Any]
    delta = since is not None and state.oldest_delta <= since <= version
    if delta:
        assert since is not None
        changed = entries.filter(Q(added_in__gt=since) | Q(removed_in__gt=since))
        changed = changed.filter(added_in__lte=version)
        before, after = [], []
        for row in changed.values_list(*_COLUMNS, "added_in", "removed_in"):
            added_in, removed_in = row[6], row[7]
            stood_before = added_in <= since and (removed_in is None or removed_in > since)
            stands_now = removed_in is None or removed_in > version
            if stood_before:
                before.append(row[:6])
            if stands_now:
                after.append(row[:6])
        body = {
            "base": since,
            "version": version,
            **delta_claims(_entries(before), _entries(after)),
        }
    else:
        # As it stood at ``version``, whatever was written since.
        standing = entries.filter(
            Q(removed_in__isnull=True) | Q(removed_in__gt=version), added_in__lte=version
        ).values_list(*_COLUMNS)
        body = {"version": version, **_entries(standing).to_claims()}
    iat = int(timezone.now().timestamp())
    claims = {
        "iss": settings.SITE_URL,
        "sub": exclusion_list_uri(node),
        "aud": node.audience,
        "iat": iat,
        "exp": iat + settings.EXCLUSION_LIST_LIFETIME,
        "ttl": settings.EXCLUSION_LIST_TTL,
        **body,
    }
    return ExclusionDocument(keys.sign(claims, LIST_TYPE), etag_of(state), version, delta)


def exclusion_list_etag(node: Node) -> str:
    """The ETag of the node's list as it stands (for a conditional request)."""
    state = ExclusionListState.objects.filter(node=node).first()
    return etag_of(state) if state is not None else f'"{node.pk}-0"'

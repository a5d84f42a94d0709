"""Reads of consents and donor links, the access check of each, and the consent decision for
many subjects at once.

Who sees a consent (:func:`access_consent`, :func:`consents_visible_to`): the citizen it
belongs to (read and write); the access body (read); the operators of a node where its owner
linked their images (read). Everyone else gets 404, as for a consent that does not exist.

The decisions (:func:`allowed_counts`, :func:`not_allowed`) read, for the subjects of a set of
datasets, the current consents of the citizens who linked them, in a fixed number of queries
whatever the number of subjects or datasets, and decide with ``consent.policy``: the columns
of each version give its status, period and decision, and the rules (provisions) are read once
per distinct rule set (``rules_digest``).
"""

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Min, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from catalogue.models import Dataset, Study
from consent.models import ConsentRecord, ConsentVersion, DonorLink, LinkCode
from consent.policy import ConsentFacts, Evaluator, Request, Verdict, decide
from portal.models import AnyUser, Role, User
from portal.workflow import NotPermitted


def default_permit() -> bool:
    """What the portal decides for a subject without a consent in force (``CONSENT_DEFAULT``)."""
    return bool(settings.CONSENT_DEFAULT == "permit")


# ---------------------------------------------------------------------------------------------
# Consents and their versions


def _may_read_as_operator(user: User, record: ConsentRecord) -> bool:
    return user.has_role(Role.NODE_OPERATOR) and (
        DonorLink.objects.filter(citizen_id=record.owner_id, node__operators=user).exists()
    )


def access_consent(user: AnyUser, pk: str, *, for_write: bool = False) -> ConsentRecord:
    """The consent ``pk`` if ``user`` may see it; 404 when they may not or it does not exist,
    :class:`~portal.workflow.NotPermitted` (403) when they may see it but not write it."""
    record = ConsentRecord.objects.select_related("owner").filter(pk=pk).first()
    if record is None or not isinstance(user, User) or not user.is_active:
        raise Http404
    if record.owner_id == user.pk and user.has_role(Role.CITIZEN):
        return record
    if user.has_role(Role.HDAB_ADMIN) or _may_read_as_operator(user, record):
        if for_write:
            raise NotPermitted("Only the person whose consent it is may change it.")
        return record
    raise Http404


def consents_visible_to(user: AnyUser) -> QuerySet[ConsentRecord]:
    """Every consent ``user`` may read (for searches and lists)."""
    records = ConsentRecord.objects.select_related("owner")
    if not isinstance(user, User) or not user.is_active:
        return records.none()
    if user.has_role(Role.HDAB_ADMIN):
        return records.all()
    visible = Q(pk__in=[])
    if user.has_role(Role.CITIZEN):
        visible |= Q(owner=user)
    if user.has_role(Role.NODE_OPERATOR):
        linked = DonorLink.objects.filter(node__operators=user).values("citizen_id")
        visible |= Q(owner_id__in=linked)
    return records.filter(visible)


def consents_of(citizen: User) -> QuerySet[ConsentRecord]:
    """The citizen's own consents (a donation and an opt-out at most)."""
    return ConsentRecord.objects.filter(owner=citizen).order_by("kind")


def consent_of_kind(citizen: User, kind: str) -> ConsentRecord | None:
    """The citizen's donation or opt-out (``ConsentRecord.Kind``), if they have one."""
    return ConsentRecord.objects.filter(owner=citizen, kind=kind).first()


def current_version(record: ConsentRecord) -> ConsentVersion:
    """The version of ``record`` in force now."""
    return ConsentVersion.objects.get(record=record, version=record.current_version)


def versions_of(record: ConsentRecord) -> QuerySet[ConsentVersion]:
    """Every version of ``record``, newest first (FHIR ``_history``)."""
    return ConsentVersion.objects.filter(record=record).order_by("-version")


def version_of(record: ConsentRecord, number: int) -> ConsentVersion:
    """One version of ``record`` (FHIR vread); 404 when there is no such version."""
    version = ConsentVersion.objects.filter(record=record, version=number).first()
    if version is None:
        raise Http404
    return version


# ---------------------------------------------------------------------------------------------
# Donor links and link codes


def donor_links_of(citizen: User) -> QuerySet[DonorLink]:
    """The pseudonyms the citizen linked, with their nodes."""
    return DonorLink.objects.filter(citizen=citizen).select_related("node").order_by("linked_at")


def access_donor_link(user: AnyUser, pk: int) -> DonorLink:
    """The citizen's own link ``pk``; 404 for anyone else's and for one that does not exist."""
    link = DonorLink.objects.select_related("node").filter(pk=pk).first()
    if link is None or not isinstance(user, User) or link.citizen_id != user.pk:
        raise Http404
    return link


def link_codes_of(user: AnyUser, node_pk: int) -> QuerySet[LinkCode]:
    """The codes issued at a node the user operates (never the codes themselves: only hashes
    are kept); nothing for anyone else."""
    if not isinstance(user, User) or not user.has_role(Role.NODE_OPERATOR):
        return LinkCode.objects.none()
    return LinkCode.objects.filter(node_id=node_pk, node__operators=user).order_by("-issued_at")


# ---------------------------------------------------------------------------------------------
# Decisions for subjects


def current_consents(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], list[Any]]:
    """The current Consent resources (FHIR JSON) of the citizens who linked each ``(node id,
    subject pseudonym)`` pair: what :func:`consent.policy.decide` reads. Pairs nobody linked
    map to an empty list. Two queries, whatever the number of pairs."""
    wanted = set(pairs)
    found: dict[tuple[int, str], list[Any]] = {pair: [] for pair in wanted}
    if not wanted:
        return found
    links = DonorLink.objects.filter(
        node_id__in={n for n, _ in wanted}, subject__in={s for _, s in wanted}
    ).values_list("node_id", "subject", "citizen_id")
    owners: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for node_id, subject, citizen_id in links:
        if (node_id, subject) in wanted:
            owners[citizen_id].append((node_id, subject))
    versions = ConsentVersion.objects.filter(
        record__owner_id__in=list(owners), version=F("record__current_version")
    ).values_list("record__owner_id", "resource")
    for owner_id, resource in versions:
        for pair in owners[owner_id]:
            found[pair].append(resource)
    return found


def decide_for_subject(
    *,
    node_pk: int,
    subject: str,
    dataset: Dataset,
    purpose: str,
    duo_codes: frozenset[str],
    at: datetime | None = None,
    permit_approved_at: datetime | None = None,
) -> Verdict:
    """The decision for one subject of ``dataset`` at the node ``node_pk``."""
    consents = current_consents([(node_pk, subject)])[(node_pk, subject)]
    return decide(
        consents,
        purpose=purpose,
        duo_codes=duo_codes,
        dataset=dataset.identifier,
        node=dataset.node.audience,
        at=at or timezone.now(),
        permit_approved_at=permit_approved_at,
        default_permit=default_permit(),
        conditions=frozenset(dataset.conditions),
    )


@dataclass(frozen=True)
class SubjectCount:
    """Of a dataset's ``total`` subjects, how many the consents allow for a use."""

    allowed: int
    total: int


@dataclass(frozen=True)
class _Cohort:
    """The subjects of some datasets, and the current consents of those who linked theirs."""

    datasets: list[Dataset]
    totals: dict[int, int]
    consented: dict[int, dict[str, list[ConsentFacts]]]
    subjects: dict[int, set[str]]


# Every subject of some datasets.
_SUBJECTS = "SELECT DISTINCT dataset_id, subject FROM {study} WHERE dataset_id IN ({datasets})"
# The current versions of the citizens who linked a pseudonym at some nodes, one row per
# (link, consent). Raw SQL: for a cohort of 100,000 subjects the ORM's row handling costs more
# than the query (tests/benchmarks/test_consent_bench.py).
_CURRENT_OF_LINKED = """
SELECT l.node_id, l.subject, r.id, v.version, v.status, v.decision, v.period_start,
       v.period_end, v.last_updated, v.rules_digest
FROM {link} l
JOIN {record} r ON r.owner_id = l.citizen_id
JOIN {version} v ON v.record_id = r.id AND v.version = r.current_version
WHERE l.node_id IN ({nodes})
"""


def _aware(value: object) -> datetime | None:
    """A timestamp from a raw row: PostgreSQL's driver gives datetimes, SQLite's text."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# One version per rule set, found through the digest's index (PostgreSQL).
_RULES_PG = """
SELECT d.digest, (SELECT v.resource -> 'provision' FROM {version} v
                  WHERE v.rules_digest = d.digest LIMIT 1)
FROM unnest(%s::text[]) AS d(digest)
"""


def _rules(digests: set[str]) -> dict[str, list[Any]]:
    """The provisions of each rule set, read from one version that has it."""
    if not digests:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _RULES_PG.format(version=ConsentVersion._meta.db_table), [sorted(digests)]
            )
            rows = cursor.fetchall()
        loaded = {d: json.loads(r) if isinstance(r, str) else r for d, r in rows}
        return {
            digest: rules if isinstance(rules, list) else [] for digest, rules in loaded.items()
        }
    first = (
        ConsentVersion.objects.filter(rules_digest__in=digests)
        .values("rules_digest")
        .annotate(first=Min("pk"))
        .values("first")
    )
    found = ConsentVersion.objects.filter(pk__in=first).values_list(
        "rules_digest", "resource__provision"
    )
    return {digest: rules if isinstance(rules, list) else [] for digest, rules in found}


def _linked_facts(
    cursor: Any, node_ids: list[int], subjects: list[str] | None
) -> dict[tuple[int, str], list[ConsentFacts]]:
    """The current consents (as :class:`ConsentFacts`) of the citizens who linked a pseudonym
    at ``node_ids`` (only ``subjects`` when given), by ``(node id, pseudonym)``: two queries."""
    sql = _CURRENT_OF_LINKED.format(
        link=DonorLink._meta.db_table,
        record=ConsentRecord._meta.db_table,
        version=ConsentVersion._meta.db_table,
        nodes=_marks(node_ids),
    )
    params: list[Any] = list(node_ids)
    if subjects is not None:
        sql += f" AND l.subject IN ({_marks(subjects)})"
        params += subjects
    cursor.execute(sql, params)
    rows = cursor.fetchall()
    shared = _rules({row[9] for row in rows})
    if connection.vendor != "postgresql":  # PostgreSQL's driver gives aware datetimes
        rows = [(*row[:6], _aware(row[6]), _aware(row[7]), _aware(row[8]), row[9]) for row in rows]
    by_pair: dict[tuple[int, str], list[ConsentFacts]] = defaultdict(list)
    for node_id, subject, record_id, number, status, decision, start, end, updated, digest in rows:
        by_pair[(node_id, subject)].append(
            ConsentFacts(
                f"Consent/{record_id}/_history/{number}",
                status,
                decision,
                start,
                end,
                updated,
                shared.get(digest, []),
            )
        )
    return by_pair


def consent_facts(
    node_ids: Iterable[int], subjects: Iterable[str] | None = None
) -> dict[tuple[int, str], list[ConsentFacts]]:
    """The current consents of the subjects linked at ``node_ids`` (only ``subjects`` when
    given), by ``(node id, pseudonym)``, as the consent decision reads them; pairs nobody
    linked are absent. Two queries."""
    nodes = sorted(set(node_ids))
    wanted = None if subjects is None else sorted(set(subjects))
    if not nodes or wanted == []:
        return {}
    with connection.cursor() as cursor:
        return _linked_facts(cursor, nodes, wanted)


def _cohort(datasets: Iterable[Dataset | int], subjects: Iterable[str] | None = None) -> _Cohort:
    """Four queries: the datasets, their subjects (only ``subjects`` when given), the current
    versions of the citizens who linked a pseudonym at their nodes, and the provisions of each
    distinct rule set."""
    wanted = [d.pk if isinstance(d, Dataset) else d for d in datasets]
    only = None if subjects is None else sorted(set(subjects))
    found = list(Dataset.objects.filter(pk__in=wanted).select_related("node"))
    datasets_at: dict[int, list[int]] = defaultdict(list)
    for dataset in found:
        datasets_at[dataset.node_id].append(dataset.pk)
    members: dict[int, set[str]] = defaultdict(set)
    by_pair: dict[tuple[int, str], list[ConsentFacts]] = {}
    if found and only != []:
        with connection.cursor() as cursor:
            sql = _SUBJECTS.format(study=Study._meta.db_table, datasets=_marks(found))
            params: list[Any] = [d.pk for d in found]
            if only is not None:
                sql += f" AND subject IN ({_marks(only)})"
                params += only
            cursor.execute(sql, params)
            for dataset_id, subject in cursor.fetchall():
                members[dataset_id].add(subject)
            by_pair = _linked_facts(cursor, list(datasets_at), only)
    consented: dict[int, dict[str, list[ConsentFacts]]] = defaultdict(dict)
    for (node_id, subject), facts in by_pair.items():
        for dataset_id in datasets_at[node_id]:
            if subject in members[dataset_id]:
                consented[dataset_id][subject] = facts
    totals = {dataset_id: len(subjects) for dataset_id, subjects in members.items()}
    return _Cohort(found, totals, consented, members)


def _marks(values: Iterable[object]) -> str:
    return ", ".join("%s" for _ in values)


def _evaluator(
    dataset: Dataset,
    purpose: str,
    duo_codes: frozenset[str],
    at: datetime,
    permit_approved_at: datetime | None,
) -> Evaluator:
    request = Request(
        purpose=purpose,
        duo_codes=frozenset(duo_codes),
        dataset=dataset.identifier,
        node=dataset.node.audience,
        at=at,
        permit_approved_at=permit_approved_at,
        conditions=frozenset(str(c) for c in dataset.conditions),
    )
    return Evaluator(request, default_permit=default_permit())


def allowed_counts(
    *,
    datasets: Iterable[Dataset | int],
    purpose: str,
    duo_codes: frozenset[str] = frozenset(),
    at: datetime | None = None,
    permit_approved_at: datetime | None = None,
) -> dict[int, SubjectCount]:
    """For each dataset (by primary key): how many of its subjects the consents allow for
    ``purpose`` and ``duo_codes`` (what a committee sees before approving; ``permit_approved_at``
    ``None`` reads as a permit approved at ``at``, now by default). Subjects without a consent
    in force count as ``CONSENT_DEFAULT`` says."""
    at = at or timezone.now()
    cohort = _cohort(datasets)
    counts = {}
    for dataset in cohort.datasets:
        evaluator = _evaluator(dataset, purpose, duo_codes, at, permit_approved_at)
        consented = cohort.consented.get(dataset.pk, {})
        total = cohort.totals.get(dataset.pk, 0)
        allowed = sum(evaluator.permits(f) for f in consented.values())
        if evaluator.default_permit:
            allowed += total - len(consented)
        counts[dataset.pk] = SubjectCount(allowed=allowed, total=total)
    return counts


def not_allowed(
    *,
    datasets: Iterable[Dataset | int],
    purpose: str,
    duo_codes: frozenset[str] = frozenset(),
    at: datetime | None = None,
    permit_approved_at: datetime | None = None,
    subjects: Iterable[str] | None = None,
) -> dict[int, dict[str, Verdict]]:
    """For each dataset (by primary key): the subjects the consents do not allow for
    ``purpose`` and ``duo_codes``, each with the verdict (which says since when, and whether
    it holds for permits approved earlier: what an exclusion list entry needs). With
    ``subjects``, only those are decided (what one consent's change needs)."""
    at = at or timezone.now()
    cohort = _cohort(datasets, subjects)
    refused: dict[int, dict[str, Verdict]] = {}
    for dataset in cohort.datasets:
        evaluator = _evaluator(dataset, purpose, duo_codes, at, permit_approved_at)
        consented = cohort.consented.get(dataset.pk, {})
        here = {}
        for subject, facts in consented.items():
            if not evaluator.permits(facts):
                here[subject] = evaluator.verdict(facts)
        if not evaluator.default_permit:
            unconsented = evaluator.verdict([])
            for subject in cohort.subjects.get(dataset.pk, ()):
                if subject not in consented:
                    here[subject] = unconsented
        refused[dataset.pk] = here
    return refused

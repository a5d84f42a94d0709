"""The consent decision for many subjects at once: the subjects of whole datasets (what a
committee sees before approving, what a node's exclusion list is built from) or a few of them
(after one consent changed).

Each subject's answer is the one :func:`consent.policy.decide` gives for their current
consents; the work is arranged so that the policy engine runs once per *standing*, not once
per subject. A subject's standing is what their decision depends on besides the request:
for each current consent of theirs, whether it plays a part (its status, its period against
the time asked about, and for an opt-out whether it took effect before the permit was
approved: EHDS Art 71(3)), how (in force, withdrawn, not begun, ended) and under which rules
(``rules_digest``, the digest of its base decision and provisions). Subjects of one dataset
with the same standing get the same permit or deny.

On PostgreSQL one statement works out every subject's standing and groups the subjects of each
dataset by it (:data:`_GROUPS`); the policy engine then decides each group once, on the
current consents of one subject of it (its representative); a group's count, or its subjects
with since when they are refused (for an exclusion list), come from the same statement. Only
:func:`not_allowed`, which answers a full :class:`~consent.policy.Verdict` per refused subject
(the consent and provision that decided, and a reason naming its day), still reads those
subjects' consents one by one. Other databases decide subject by subject (the same answers,
slower).

The grouping reads at most one donation (base decision permit) and one opt-out (base decision
deny) per citizen: ``ConsentRecord`` keeps one record of each kind per owner
(``one_consent_of_each_kind``), and the services refuse a decision that does not fit the kind.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from catalogue.models import Dataset, Study
from consent.models import ConsentRecord, ConsentVersion, DonorLink
from consent.policy import PERMIT, ConsentFacts, Evaluator, Request, Verdict, cause_of, decide

# A refused subject of an exclusion list: (since, applies to earlier permits), ``since`` in
# whole seconds since the epoch (0 when the refusal has no start: no consent under an opt-in
# default), as :attr:`Verdict.since` and :attr:`Verdict.applies_to_earlier_permits` give it.
Refusal = tuple[int, bool]


def default_permit() -> bool:
    """What the portal decides for a subject without a consent in force (``CONSENT_DEFAULT``)."""
    return bool(settings.CONSENT_DEFAULT == "permit")


def seconds(moment: datetime | None) -> int:
    """``moment`` in whole seconds since the epoch, 0 for none (or before 1970): the times an
    exclusion list carries."""
    return max(0, int(moment.timestamp())) if moment is not None else 0


# ---------------------------------------------------------------------------------------------
# One subject


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


# ---------------------------------------------------------------------------------------------
# Consents as the decision reads them, from the version columns


# The current versions of the citizens who linked a pseudonym at some nodes, one row per
# (link, consent). Raw SQL: for many subjects the ORM's row handling costs more than the query.
_CURRENT_OF_LINKED = """
SELECT l.node_id, l.subject, r.id, v.version, v.status, v.decision, v.period_start,
       v.period_end, v.last_updated, v.rules_digest, v.id
FROM {link} l
JOIN {record} r ON r.owner_id = l.citizen_id
JOIN {version} v ON v.record_id = r.id AND v.version = r.current_version
"""


def _tables() -> dict[str, str]:
    return {
        "link": DonorLink._meta.db_table,
        "record": ConsentRecord._meta.db_table,
        "version": ConsentVersion._meta.db_table,
        "study": Study._meta.db_table,
        "dataset": Dataset._meta.db_table,
    }


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _aware(value: object) -> datetime | None:
    """A timestamp from a raw row: PostgreSQL's driver gives datetimes, SQLite's text."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rules(versions: dict[str, int]) -> dict[str, list[Any]]:
    """The provisions of each rule set, read from one version that has it (``versions``: a
    version's primary key by rule set)."""
    if not versions:
        return {}
    found = ConsentVersion.objects.filter(pk__in=set(versions.values())).values_list(
        "rules_digest", "resource__provision"
    )
    return {digest: rules if isinstance(rules, list) else [] for digest, rules in found}


def _linked_facts(
    cursor: Any, node_ids: Sequence[int], subjects: Sequence[str] | None
) -> dict[tuple[int, str], list[ConsentFacts]]:
    """The current consents (as :class:`ConsentFacts`) of the citizens who linked a pseudonym
    at ``node_ids`` (only ``subjects`` when given), by ``(node id, pseudonym)``: two queries."""
    sql = _CURRENT_OF_LINKED.format(**_tables())
    params: list[Any]
    if _postgres():
        sql += " WHERE l.node_id = ANY(%s)"
        params = [list(node_ids)]
        if subjects is not None:
            sql += " AND l.subject = ANY(%s)"
            params.append(list(subjects))
    else:
        sql += f" WHERE l.node_id IN ({_marks(node_ids)})"
        params = list(node_ids)
        if subjects is not None:
            sql += f" AND l.subject IN ({_marks(subjects)})"
            params += subjects
    cursor.execute(sql, params)
    rows = cursor.fetchall()
    shared = _rules({row[9]: row[10] for row in rows})
    if not _postgres():  # PostgreSQL's driver gives aware datetimes
        rows = [
            (*row[:6], _aware(row[6]), _aware(row[7]), _aware(row[8]), *row[9:]) for row in rows
        ]
    by_pair: dict[tuple[int, str], list[ConsentFacts]] = defaultdict(list)
    for row in rows:
        node_id, subject, record_id, number, status, decision, start, end, updated, digest = row[
            :10
        ]
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


def _marks(values: Iterable[object]) -> str:
    return ", ".join("%s" for _ in values)


# ---------------------------------------------------------------------------------------------
# Subjects grouped by standing (PostgreSQL)

# For each (dataset, standing): how many subjects, one of them, and with ``{members}`` every
# subject with the start of a refusal by their donation and by their opt-out, in seconds.
# A consent's part follows consent.policy.Evaluator: none for a status or decision that plays
# no part, nor for an opt-out not in force or taking effect after the permit's approval;
# otherwise in force (with its rules), or for a donation withdrawn, not begun or ended. Its
# ``since`` is the start the policy engine gives a denial by it.
_GROUPS = """
WITH consent AS (
  SELECT l.node_id, l.subject, v.decision,
    CASE
      WHEN v.decision NOT IN ('permit', 'deny') OR v.status NOT IN ('active', 'inactive')
        THEN NULL
      WHEN v.decision = 'permit' THEN CASE
        WHEN f.in_force THEN 'in force ' || v.rules_digest
        WHEN v.status = 'inactive' AND NOT f.not_begun THEN 'withdrawn'
        WHEN f.not_begun THEN 'not begun'
        ELSE 'ended' END
      WHEN f.in_force
           AND NOT coalesce(%(approved)s < coalesce(v.period_start, v.last_updated), false)
        THEN 'in force ' || v.rules_digest
    END AS part,
    floor(extract(epoch FROM CASE
      WHEN v.decision = 'deny' THEN coalesce(v.period_start, v.last_updated)
      WHEN f.in_force THEN coalesce(v.last_updated, v.period_start)
      WHEN v.status = 'inactive' AND NOT f.not_begun THEN coalesce(v.period_end, v.last_updated)
      WHEN f.not_begun THEN v.last_updated
      ELSE v.period_end
    END))::bigint AS since
  FROM {link} l
  JOIN {record} r ON r.owner_id = l.citizen_id
  JOIN {version} v ON v.record_id = r.id AND v.version = r.current_version
  CROSS JOIN LATERAL (SELECT
      (v.period_start IS NULL OR v.period_start <= %(at)s)
        AND (v.period_end IS NULL OR %(at)s < v.period_end)
        AND (v.status = 'active' OR v.period_end IS NOT NULL) AS in_force,
      coalesce(%(at)s < v.period_start, false) AS not_begun) f
  WHERE l.node_id = ANY(%(nodes)s) {only_links}
), standing AS (
  SELECT node_id, subject,
    max(part) FILTER (WHERE decision = 'permit') AS donation,
    max(part) FILTER (WHERE decision = 'deny') AS opt_out,
    max(since) FILTER (WHERE decision = 'permit') AS donation_since,
    max(since) FILTER (WHERE decision = 'deny') AS opt_out_since
  FROM consent WHERE part IS NOT NULL
  GROUP BY node_id, subject
), cohort AS (
  SELECT DISTINCT s.dataset_id, d.node_id, s.subject
  FROM {study} s JOIN {dataset} d ON d.id = s.dataset_id
  WHERE s.dataset_id = ANY(%(datasets)s) {only_studies}
)
SELECT c.dataset_id, st.donation, st.opt_out, count(*), min(c.subject) {members}
FROM cohort c
LEFT JOIN standing st ON st.node_id = c.node_id AND st.subject = c.subject
GROUP BY c.dataset_id, st.donation, st.opt_out
"""
_MEMBERS = (
    ", array_agg(c.subject), array_agg(coalesce(st.donation_since, 0)),"
    " array_agg(coalesce(st.opt_out_since, 0))"
)


@dataclass
class _Group:
    """Subjects of one dataset with the same standing, and the decision for them."""

    dataset: Dataset
    count: int
    representative: str
    verdict: Verdict
    decided_by: str  # the base decision of the consent that decided, or "" (the default)
    subjects: Sequence[str] = ()
    donation_since: Sequence[int] = ()
    opt_out_since: Sequence[int] = ()

    def refusals(self) -> dict[str, Refusal]:
        earlier = self.verdict.applies_to_earlier_permits
        if not self.decided_by:
            since = seconds(self.verdict.since)
            return dict.fromkeys(self.subjects, (since, earlier))
        starts = self.donation_since if self.decided_by == PERMIT else self.opt_out_since
        return {s: (max(0, t), earlier) for s, t in zip(self.subjects, starts, strict=True)}


def _grouped(
    datasets: list[Dataset],
    evaluators: dict[int, Evaluator],
    *,
    at: datetime,
    approved_at: datetime,
    subjects: list[str] | None,
    members: bool,
) -> list[_Group]:
    """The subjects of ``datasets`` (only ``subjects`` when given) grouped by standing, each
    group decided by the policy engine on its representative's consents: two queries and
    the rule sets' (see the module's docstring)."""
    node_of = {d.pk: d.node_id for d in datasets}
    by_pk = {d.pk: d for d in datasets}
    only = " AND {}.subject = ANY(%(subjects)s)"
    sql = _GROUPS.format(
        **_tables(),
        only_links=only.format("l") if subjects is not None else "",
        only_studies=only.format("s") if subjects is not None else "",
        members=_MEMBERS if members else "",
    )
    nodes = sorted(set(node_of.values()))
    params: dict[str, Any] = {
        "at": at,
        "approved": approved_at,
        "nodes": nodes,
        "datasets": sorted(by_pk),
        "subjects": subjects,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        representatives = sorted({row[4] for row in rows})
        facts = _linked_facts(cursor, nodes, representatives) if rows else {}
    groups = []
    for row in rows:
        dataset_pk, _donation, _opt_out, count, representative = row[:5]
        consents = facts.get((node_of[dataset_pk], representative), [])
        verdict = evaluators[dataset_pk].verdict(consents)
        ref = verdict.provision.partition("#")[0]
        decided_by = next((c.decision for c in consents if c.ref == ref), "")
        group = _Group(by_pk[dataset_pk], count, representative, verdict, decided_by)
        if members:
            group.subjects, group.donation_since, group.opt_out_since = row[5:8]
        groups.append(group)
    return groups


# ---------------------------------------------------------------------------------------------
# Subjects one by one (other databases, and the verdicts of refused subjects)


@dataclass(frozen=True)
class _Cohort:
    """The subjects of some datasets, and the current consents of those who linked theirs."""

    datasets: list[Dataset]
    totals: dict[int, int]
    consented: dict[int, dict[str, list[ConsentFacts]]]
    subjects: dict[int, set[str]]


# Every subject of some datasets.
_SUBJECTS = "SELECT DISTINCT dataset_id, subject FROM {study} WHERE dataset_id IN ({datasets})"


def _cohort(datasets: list[Dataset], subjects: list[str] | None) -> _Cohort:
    """The subjects of ``datasets`` (only ``subjects`` when given) and the current consents of
    the citizens who linked them: three queries."""
    datasets_at: dict[int, list[int]] = defaultdict(list)
    for dataset in datasets:
        datasets_at[dataset.node_id].append(dataset.pk)
    members: dict[int, set[str]] = defaultdict(set)
    by_pair: dict[tuple[int, str], list[ConsentFacts]] = {}
    if datasets and subjects != []:
        with connection.cursor() as cursor:
            sql = _SUBJECTS.format(study=Study._meta.db_table, datasets=_marks(datasets))
            params: list[Any] = [d.pk for d in datasets]
            if subjects is not None:
                sql += f" AND subject IN ({_marks(subjects)})"
                params += subjects
            cursor.execute(sql, params)
            for dataset_id, subject in cursor.fetchall():
                members[dataset_id].add(subject)
            by_pair = _linked_facts(cursor, list(datasets_at), subjects)
    consented: dict[int, dict[str, list[ConsentFacts]]] = defaultdict(dict)
    for (node_id, subject), facts in by_pair.items():
        for dataset_id in datasets_at[node_id]:
            if subject in members[dataset_id]:
                consented[dataset_id][subject] = facts
    totals = {dataset_id: len(found) for dataset_id, found in members.items()}
    return _Cohort(datasets, totals, consented, members)


def _refused_each(
    cohort: _Cohort, evaluators: dict[int, Evaluator]
) -> dict[int, dict[str, Verdict]]:
    refused: dict[int, dict[str, Verdict]] = {}
    for dataset in cohort.datasets:
        evaluator = evaluators[dataset.pk]
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


# ---------------------------------------------------------------------------------------------
# The decisions


@dataclass(frozen=True)
class SubjectCount:
    """Of a dataset's ``total`` subjects, how many the consents allow for a use."""

    allowed: int
    total: int


@dataclass(frozen=True)
class _Ask:
    datasets: list[Dataset]
    evaluators: dict[int, Evaluator]
    at: datetime
    subjects: list[str] | None


def _ask(
    datasets: Iterable[Dataset | int],
    purpose: str,
    duo_codes: frozenset[str],
    at: datetime | None,
    permit_approved_at: datetime | None,
    subjects: Iterable[str] | None = None,
) -> _Ask:
    """The datasets (one query) and an evaluator of the use for each."""
    wanted = [d.pk if isinstance(d, Dataset) else d for d in datasets]
    found = list(Dataset.objects.filter(pk__in=wanted).select_related("node").order_by("pk"))
    at = at or timezone.now()
    evaluators = {}
    for dataset in found:
        request = Request(
            purpose=purpose,
            duo_codes=frozenset(duo_codes),
            dataset=dataset.identifier,
            node=dataset.node.audience,
            at=at,
            permit_approved_at=permit_approved_at,
            conditions=frozenset(str(c) for c in dataset.conditions),
        )
        evaluators[dataset.pk] = Evaluator(request, default_permit=default_permit())
    only = None if subjects is None else sorted(set(subjects))
    return _Ask(found, evaluators, at, only)


def _approved(ask: _Ask, permit_approved_at: datetime | None) -> datetime:
    return ask.at if permit_approved_at is None else permit_approved_at


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
    ask = _ask(datasets, purpose, duo_codes, at, permit_approved_at)
    totals = {d.pk: 0 for d in ask.datasets}
    allowed = dict(totals)
    if ask.datasets and _postgres():
        approved = _approved(ask, permit_approved_at)
        for group in _grouped(
            ask.datasets, ask.evaluators, at=ask.at, approved_at=approved, subjects=None,
            members=False,
        ):  # fmt: skip
            totals[group.dataset.pk] += group.count
            allowed[group.dataset.pk] += group.count if group.verdict.permit else 0
    elif ask.datasets:
        cohort = _cohort(ask.datasets, None)
        for dataset in ask.datasets:
            evaluator = ask.evaluators[dataset.pk]
            consented = cohort.consented.get(dataset.pk, {})
            totals[dataset.pk] = cohort.totals.get(dataset.pk, 0)
            allowed[dataset.pk] = sum(evaluator.permits(f) for f in consented.values())
            if evaluator.default_permit:
                allowed[dataset.pk] += totals[dataset.pk] - len(consented)
    return {pk: SubjectCount(allowed=allowed[pk], total=totals[pk]) for pk in totals}


def refusal_counts(
    *,
    datasets: Iterable[Dataset | int],
    purpose: str,
    duo_codes: frozenset[str] = frozenset(),
    at: datetime | None = None,
    permit_approved_at: datetime | None = None,
) -> dict[int, dict[str, int]]:
    """For each dataset (by primary key): how many of its subjects the consents do not allow
    for ``purpose`` and ``duo_codes``, by the kind of refusal (:func:`consent.policy.cause_of`:
    withdrawn, opted out, outside the donation, no consent): what a committee reads beside
    :func:`allowed_counts`, without a verdict per subject (the kind is the same for a whole
    group of subjects with the same standing)."""
    ask = _ask(datasets, purpose, duo_codes, at, permit_approved_at)
    found: dict[int, dict[str, int]] = {d.pk: defaultdict(int) for d in ask.datasets}
    if ask.datasets and _postgres():
        approved = _approved(ask, permit_approved_at)
        for group in _grouped(
            ask.datasets, ask.evaluators, at=ask.at, approved_at=approved, subjects=None,
            members=False,
        ):  # fmt: skip
            if not group.verdict.permit:
                found[group.dataset.pk][cause_of(group.verdict)] += group.count
    elif ask.datasets:
        for pk, verdicts in _refused_each(_cohort(ask.datasets, None), ask.evaluators).items():
            for verdict in verdicts.values():
                found[pk][cause_of(verdict)] += 1
    return {pk: dict(causes) for pk, causes in found.items()}


def exclusion_set(
    *,
    datasets: Iterable[Dataset | int],
    purpose: str,
    duo_codes: frozenset[str] = frozenset(),
    at: datetime | None = None,
    permit_approved_at: datetime | None = None,
    subjects: Iterable[str] | None = None,
) -> dict[int, dict[str, Refusal]]:
    """For each dataset (by primary key): the subjects the consents do not allow for
    ``purpose`` and ``duo_codes``, each with its :data:`Refusal` (since when, and whether it
    holds for permits approved earlier): what an exclusion list's entries need, and the
    answers of :func:`not_allowed` without the reasons. With ``subjects``, only those are
    decided (what one consent's change needs)."""
    ask = _ask(datasets, purpose, duo_codes, at, permit_approved_at, subjects)
    refused: dict[int, dict[str, Refusal]] = {d.pk: {} for d in ask.datasets}
    if not ask.datasets or ask.subjects == []:
        return refused
    if _postgres():
        approved = _approved(ask, permit_approved_at)
        for group in _grouped(
            ask.datasets, ask.evaluators, at=ask.at, approved_at=approved,
            subjects=ask.subjects, members=True,
        ):  # fmt: skip
            if not group.verdict.permit:
                refused[group.dataset.pk].update(group.refusals())
        return refused
    verdicts = _refused_each(_cohort(ask.datasets, ask.subjects), ask.evaluators)
    return {
        pk: {s: (seconds(v.since), v.applies_to_earlier_permits) for s, v in found.items()}
        for pk, found in verdicts.items()
    }


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
    ``purpose`` and ``duo_codes``, each with the verdict (which consent and provision decided,
    why, since when, and whether it holds for permits approved earlier). With ``subjects``,
    only those are decided."""
    ask = _ask(datasets, purpose, duo_codes, at, permit_approved_at, subjects)
    refused: dict[int, dict[str, Verdict]] = {d.pk: {} for d in ask.datasets}
    if not ask.datasets or ask.subjects == []:
        return refused
    if not _postgres():
        return _refused_each(_cohort(ask.datasets, ask.subjects), ask.evaluators)
    approved = _approved(ask, permit_approved_at)
    one_by_one: dict[int, list[str]] = defaultdict(list)
    for group in _grouped(
        ask.datasets, ask.evaluators, at=ask.at, approved_at=approved, subjects=ask.subjects,
        members=True,
    ):  # fmt: skip
        if group.verdict.permit:
            continue
        if group.decided_by:  # the verdict names the subject's own consent
            one_by_one[group.dataset.pk] += group.subjects
        else:  # the default: the same verdict for each
            refused[group.dataset.pk].update(dict.fromkeys(group.subjects, group.verdict))
    wanted = sorted({s for found in one_by_one.values() for s in found})
    if wanted:
        nodes = sorted({d.node_id for d in ask.datasets})
        with connection.cursor() as cursor:
            facts = _linked_facts(cursor, nodes, wanted)
        for dataset in ask.datasets:
            evaluator = ask.evaluators[dataset.pk]
            for subject in one_by_one.get(dataset.pk, ()):
                consents = facts.get((dataset.node_id, subject), [])
                refused[dataset.pk][subject] = evaluator.verdict(consents)
    return refused

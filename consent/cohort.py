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
subjects' consents one by one. The subjects linked at some nodes are grouped the same way for
the refusals of every use (:func:`every_use_refusals`, with
:func:`consent.policy.denies_every_use`). Other databases decide subject by subject (the same
answers, slower).

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
from django.utils import timezone

from catalogue.models import Dataset, Study
from consent.facts import consent_facts, current_consents, is_postgres, linked_facts, marks, tables
from consent.policy import (
    PERMIT,
    ConsentFacts,
    Evaluator,
    Request,
    Verdict,
    cause_of,
    decide,
    denies_every_use,
)

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
# Subjects grouped by standing (PostgreSQL)

# For each (place, standing): how many subjects, one of them, and with ``{members}`` every
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
), cohort AS ({cohort})
SELECT c.place, st.donation, st.opt_out, count(*), min(c.subject) {members}
FROM cohort c
LEFT JOIN standing st ON st.node_id = c.node_id AND st.subject = c.subject
GROUP BY c.place, st.donation, st.opt_out
"""
# The subjects of some datasets (the place of each is its dataset).
_OF_DATASETS = """
  SELECT DISTINCT s.dataset_id AS place, d.node_id, s.subject
  FROM {study} s JOIN {dataset} d ON d.id = s.dataset_id
  WHERE s.dataset_id = ANY(%(datasets)s) {only_studies}
"""
# The subjects linked to an account at some nodes (the place of each is its node).
_LINKED = """
  SELECT l.node_id AS place, l.node_id, l.subject
  FROM {link} l WHERE l.node_id = ANY(%(nodes)s) {only_links}
"""
_MEMBERS = (
    ", array_agg(c.subject), array_agg(coalesce(st.donation_since, 0)),"
    " array_agg(coalesce(st.opt_out_since, 0))"
)


@dataclass
class _Group:
    """Subjects of one place (a dataset, or a node) with the same standing: how many, the
    current consents of one of them, and with members each of them with the start of a
    refusal by their donation and by their opt-out (seconds; 0 for none)."""

    place: int
    count: int
    consents: list[ConsentFacts]
    subjects: Sequence[str] = ()
    donation_since: Sequence[int] = ()
    opt_out_since: Sequence[int] = ()

    def refusals(self, since: datetime | None, earlier: bool, by: str) -> dict[str, Refusal]:
        """Each subject's refusal, when the consent of base decision ``by`` refuses them all
        (the start its own), or, when ``by`` is "", none does (``since`` for all)."""
        if not by:
            return dict.fromkeys(self.subjects, (seconds(since), earlier))
        starts = self.donation_since if by == PERMIT else self.opt_out_since
        return {s: (max(0, t), earlier) for s, t in zip(self.subjects, starts, strict=True)}


def _groups(
    cohort: str,
    *,
    nodes: list[int],
    datasets: list[int],
    at: datetime,
    approved_at: datetime,
    subjects: list[str] | None,
    members: bool,
    node_of: dict[int, int],
) -> list[_Group]:
    """The subjects of ``cohort`` (:data:`_OF_DATASETS` or :data:`_LINKED`; only ``subjects``
    when given) grouped by standing, with the current consents of one subject of each group
    (``node_of`` gives a place's node): two queries and the rule sets'."""
    only = " AND {}.subject = ANY(%(subjects)s)"
    sql = _GROUPS.format(
        **tables(),
        cohort=cohort.format(
            **tables(),
            only_links=only.format("l") if subjects is not None else "",
            only_studies=only.format("s") if subjects is not None else "",
        ),
        only_links=only.format("l") if subjects is not None else "",
        members=_MEMBERS if members else "",
    )
    params: dict[str, Any] = {
        "at": at,
        "approved": approved_at,
        "nodes": nodes,
        "datasets": datasets,
        "subjects": subjects,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        representatives = sorted({row[4] for row in rows})
        facts = linked_facts(cursor, nodes, representatives) if rows else {}
    groups = []
    for row in rows:
        place, _donation, _opt_out, count, representative = row[:5]
        group = _Group(place, count, facts.get((node_of[place], representative), []))
        if members:
            group.subjects, group.donation_since, group.opt_out_since = row[5:8]
        groups.append(group)
    return groups


def _decided_by(verdict: Verdict, consents: list[ConsentFacts]) -> str:
    """The base decision of the consent that decided ``verdict``, or "" for the default."""
    ref = verdict.provision.partition("#")[0]
    return next((c.decision for c in consents if c.ref == ref), "")


def _grouped(
    datasets: list[Dataset],
    evaluators: dict[int, Evaluator],
    *,
    at: datetime,
    approved_at: datetime,
    subjects: list[str] | None,
    members: bool,
) -> list[tuple[_Group, Verdict]]:
    """The subjects of ``datasets`` grouped by standing, each group with the policy engine's
    verdict on its representative's consents (see the module's docstring)."""
    node_of = {d.pk: d.node_id for d in datasets}
    groups = _groups(
        _OF_DATASETS,
        nodes=sorted(set(node_of.values())),
        datasets=sorted(node_of),
        at=at,
        approved_at=approved_at,
        subjects=subjects,
        members=members,
        node_of=node_of,
    )
    return [(group, evaluators[group.place].verdict(group.consents)) for group in groups]


# Later than any permit's approval: every opt-out in force counts (denies_every_use).
_NEVER = datetime(9999, 1, 1, tzinfo=UTC)


def every_use_refusals(
    node_ids: Iterable[int], subjects: Iterable[str] | None = None, at: datetime | None = None
) -> dict[tuple[int, str], Refusal]:
    """The subjects linked at ``node_ids`` (only ``subjects`` when given) whose consents deny
    every use (:func:`consent.policy.denies_every_use`: withdrawn or ended donations, opt-outs
    without exceptions in force), by ``(node id, pseudonym)``, each with since when and whether
    for earlier permits: an exclusion list's subject entries."""
    nodes = sorted(set(node_ids))
    wanted = None if subjects is None else sorted(set(subjects))
    at = at or timezone.now()
    found: dict[tuple[int, str], Refusal] = {}
    if not nodes or wanted == []:
        return found
    if not is_postgres():
        for pair, facts in consent_facts(nodes, wanted).items():
            every = denies_every_use(facts, at)
            if every is not None:
                found[pair] = (seconds(every[0]), every[1])
        return found
    groups = _groups(
        _LINKED,
        nodes=nodes,
        datasets=[],
        at=at,
        approved_at=_NEVER,
        subjects=wanted,
        members=True,
        node_of={n: n for n in nodes},
    )
    for group in groups:
        every = denies_every_use(group.consents, at)
        if every is None:
            continue
        since, earlier = every
        by = PERMIT if earlier else "deny"  # a withdrawal, else opt-outs (only one of each)
        for subject, refusal in group.refusals(since, earlier, by).items():
            found[(group.place, subject)] = refusal
    return found


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
            sql = _SUBJECTS.format(study=Study._meta.db_table, datasets=marks(datasets))
            params: list[Any] = [d.pk for d in datasets]
            if subjects is not None:
                sql += f" AND subject IN ({marks(subjects)})"
                params += subjects
            cursor.execute(sql, params)
            for dataset_id, subject in cursor.fetchall():
                members[dataset_id].add(subject)
            by_pair = linked_facts(cursor, list(datasets_at), subjects)
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
    if ask.datasets and is_postgres():
        approved = _approved(ask, permit_approved_at)
        for group, verdict in _grouped(
            ask.datasets, ask.evaluators, at=ask.at, approved_at=approved, subjects=None,
            members=False,
        ):  # fmt: skip
            totals[group.place] += group.count
            allowed[group.place] += group.count if verdict.permit else 0
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
    if ask.datasets and is_postgres():
        approved = _approved(ask, permit_approved_at)
        for group, verdict in _grouped(
            ask.datasets, ask.evaluators, at=ask.at, approved_at=approved, subjects=None,
            members=False,
        ):  # fmt: skip
            if not verdict.permit:
                found[group.place][cause_of(verdict)] += group.count
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
    if is_postgres():
        approved = _approved(ask, permit_approved_at)
        for group, verdict in _grouped(
            ask.datasets, ask.evaluators, at=ask.at, approved_at=approved,
            subjects=ask.subjects, members=True,
        ):  # fmt: skip
            if not verdict.permit:
                by = _decided_by(verdict, group.consents)
                earlier = verdict.applies_to_earlier_permits
                refused[group.place].update(group.refusals(verdict.since, earlier, by))
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
    if not is_postgres():
        return _refused_each(_cohort(ask.datasets, ask.subjects), ask.evaluators)
    approved = _approved(ask, permit_approved_at)
    one_by_one: dict[int, list[str]] = defaultdict(list)
    for group, verdict in _grouped(
        ask.datasets, ask.evaluators, at=ask.at, approved_at=approved, subjects=ask.subjects,
        members=True,
    ):  # fmt: skip
        if verdict.permit:
            continue
        if _decided_by(verdict, group.consents):  # the verdict names the subject's consent
            one_by_one[group.place] += group.subjects
        else:  # the default: the same verdict for each
            refused[group.place].update(dict.fromkeys(group.subjects, verdict))
    wanted = sorted({s for found in one_by_one.values() for s in found})
    if wanted:
        nodes = sorted({d.node_id for d in ask.datasets})
        with connection.cursor() as cursor:
            facts = linked_facts(cursor, nodes, wanted)
        for dataset in ask.datasets:
            evaluator = ask.evaluators[dataset.pk]
            for subject in one_by_one.get(dataset.pk, ()):
                consents = facts.get((dataset.node_id, subject), [])
                refused[dataset.pk][subject] = evaluator.verdict(consents)
    return refused

"""What a donor may see of the use of their data (EHDS Art 73's access log, shown to the person
it concerns): the datasets that hold their imaging studies, the data permits that granted any
of those datasets, and each request for one of their studies that a node reported.

Only the citizen's own links (``consent.DonorLink``: a pseudonym at a node) count. A study is
theirs when a dataset *of that node* indexes it under that pseudonym; an access event concerns
them when *that node* reported it for that study's StudyInstanceUID. The same pseudonym or the
same UID at another node is someone else's. Researchers appear by organisation only; tokens,
researcher names and other subjects' studies never appear.

Every read runs in a fixed number of queries whatever the number of links, studies, permits or
events: the studies are a subquery on the citizen's links, never a list built in Python.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from access.models import NodeAccessEvent, Permit
from access.node.reasons import Reason
from catalogue.models import Dataset, Study
from consent.models import DonorLink
from consent.selectors import donor_links_of
from portal.models import AuditEvent, User

PERMITS_PER_PAGE = 10
EVENTS_PER_PAGE = 25

# Why a node refused a request, in the words a donor reads after "because".
REASON_WORDS: dict[str, Promise] = {
    Reason.MISSING_TOKEN: _("the request came without an access token"),
    Reason.MALFORMED: _("the access token could not be read"),
    Reason.OVERSIZED: _("the access token could not be read"),
    Reason.BAD_ALGORITHM: _("the access token was not signed the way this portal signs"),
    Reason.BAD_HEADER: _("the access token was not signed the way this portal signs"),
    Reason.UNKNOWN_KEY: _("the access token was signed with a key this portal does not use"),
    Reason.KEYS_UNAVAILABLE: _("the node could not yet check access tokens against this portal"),
    Reason.BAD_SIGNATURE: _("the access token's signature was false"),
    Reason.BAD_TYPE: _("the token was not an access token"),
    Reason.BAD_ISSUER: _("the access token was not issued by this portal"),
    Reason.WRONG_AUDIENCE: _("the access token was issued for another imaging node"),
    Reason.EXPIRED: _("the access token had expired"),
    Reason.NOT_YET_VALID: _("the access token was not valid yet"),
    Reason.BAD_CLAIMS: _("the access token did not say clearly what it allows"),
    Reason.STUDY_MAP_UNAVAILABLE: _(
        "the node did not have an up-to-date list of which studies belong to which dataset"
    ),
    Reason.REVOKED: _("the access token or its permit had been revoked, or the permit had ended"),
    Reason.SUSPENDED: _("the permit was suspended"),
    Reason.STATUS_UNAVAILABLE: _("the node could not check that the permit was still valid"),
    Reason.UNTRUSTED_STATUS_LIST: _("the node could not check that the permit was still valid"),
    Reason.STATUS_OUT_OF_RANGE: _("the node could not check that the permit was still valid"),
    Reason.INSUFFICIENT_SCOPE: _("the access token does not allow this kind of request"),
    Reason.STUDY_NOT_PERMITTED: _("the permit does not cover the dataset that holds this study"),
    Reason.SUBJECT_EXCLUDED: _(
        "your consent choices (a withdrawal or an opt-out) do not allow this use"
    ),
    Reason.EXCLUSIONS_UNAVAILABLE: _(
        "the node could not check that your consent choices still allowed this use"
    ),
    Reason.PERMIT_NOT_IN_EXCLUSIONS: _(
        "the node could not yet check this permit against your consent choices"
    ),
    Reason.VERIFIER_ERROR: _("the node's checks failed, and it refuses whenever that happens"),
}


def reason_words(code: str) -> str:
    """The plain words of a refusal's reason code; a code this portal does not know yet (a
    newer node's) is named as such."""
    words = REASON_WORDS.get(code)
    if words is not None:
        return str(words)
    return str(_("of a rule this portal does not describe yet (code “%s”)") % code)


def _linked(citizen: User) -> QuerySet[DonorLink]:
    """The citizen's link matching the outer study's node and subject."""
    return DonorLink.objects.filter(
        citizen=citizen, node=OuterRef("dataset__node"), subject=OuterRef("subject")
    )


def donor_studies(citizen: User) -> QuerySet[Study]:
    """The studies indexed under one of the citizen's pseudonyms, in datasets of the node where
    they linked it."""
    return Study.objects.filter(Exists(_linked(citizen)))


def donor_access_events(citizen: User) -> QuerySet[NodeAccessEvent]:
    """The access events nodes reported for the citizen's studies, each at the node that holds
    that study, newest first, with the token's permit and application when the portal knows the
    token."""
    theirs = donor_studies(citizen).filter(
        study_instance_uid=OuterRef("study_instance_uid"), dataset__node=OuterRef("node")
    )
    return (
        NodeAccessEvent.objects.filter(Exists(theirs))
        .select_related("node", "token__permit__application")
        .order_by("-time", "-pk")
    )


def donor_datasets(citizen: User) -> list[Dataset]:
    """The datasets holding at least one of the citizen's studies, each with ``your_studies``
    (how many), by node and title (one query)."""
    # Filtered before the count, so the count reads the citizen's studies only (and the
    # database reaches them from the citizen's links, not by counting every study).
    return list(
        Dataset.objects.filter(studies__in=donor_studies(citizen))
        .annotate(your_studies=Count("studies"))
        .select_related("node")
        .order_by("node__name", "title", "pk")
    )


# The audit actions that change a permit's status, and the status each leaves it in.
_STATUS_ACTIONS = {
    "access.permit.suspended": Permit.Status.SUSPENDED,
    "access.permit.reactivated": Permit.Status.ACTIVE,
    "access.permit.revoked": Permit.Status.REVOKED,
    "access.permit.expired": Permit.Status.EXPIRED,
}


@dataclass(frozen=True)
class PermitChange:
    """A change of a permit's status: when, and the status it left the permit in."""

    when: datetime
    status: str


@dataclass(frozen=True)
class PermitUse:
    """A permit that granted at least one dataset holding the citizen's studies: those of the
    citizen's datasets it granted, and its status changes, oldest first."""

    permit: Permit
    datasets: tuple[Dataset, ...]
    changes: tuple[PermitChange, ...]
    today: date

    @property
    def organisation(self) -> str:
        return self.permit.application.organisation

    @property
    def ended(self) -> bool:
        """Over for good: revoked, expired, or past its end date (before the daily expiry
        marks it expired)."""
        return self.permit.status in (Permit.Status.REVOKED, Permit.Status.EXPIRED) or (
            self.permit.ends_on < self.today
        )

    @property
    def last_day(self) -> date:
        """The day it stopped allowing use (when ended): revoked on, or its end date."""
        if self.permit.status == Permit.Status.REVOKED:
            return timezone.localdate(self.since)
        return self.permit.ends_on

    @property
    def since(self) -> datetime:
        """When it took its current status (the audit chain's record of the change; the
        permit's last change when the chain holds none)."""
        for change in reversed(self.changes):
            if change.status == self.permit.status:
                return change.when
        return self.permit.changed_at


def _permit_changes(permit_ids: list[int]) -> dict[int, list[PermitChange]]:
    changes: dict[int, list[PermitChange]] = {pk: [] for pk in permit_ids}
    rows = (
        AuditEvent.objects.filter(
            object_type="access.permit",
            object_id__in=[str(pk) for pk in permit_ids],
            action__in=list(_STATUS_ACTIONS),
        )
        .order_by("seq")
        .values_list("object_id", "action", "created_at")
    )
    for object_id, action, when in rows:
        changes[int(object_id)].append(PermitChange(when=when, status=_STATUS_ACTIONS[action]))
    return changes


def _permit_uses(page: Page, datasets: list[Dataset]) -> list[PermitUse]:
    permits: list[Permit] = list(page.object_list)
    ids = [permit.pk for permit in permits]
    by_pk = {dataset.pk: dataset for dataset in datasets}
    granted: dict[int, list[Dataset]] = {pk: [] for pk in ids}
    pairs = Permit.datasets.through.objects.filter(permit__in=ids, dataset__in=list(by_pk))
    for permit_id, dataset_id in pairs.values_list("permit_id", "dataset_id"):
        granted[permit_id].append(by_pk[dataset_id])
    changes = _permit_changes(ids)
    today = timezone.localdate()
    order = {pk: i for i, pk in enumerate(by_pk)}
    return [
        PermitUse(
            permit=permit,
            datasets=tuple(sorted(granted[permit.pk], key=lambda d: order[d.pk])),
            changes=tuple(changes[permit.pk]),
            today=today,
        )
        for permit in permits
    ]


@dataclass(frozen=True)
class DonorEvent:
    """One request for one of the citizen's studies that a node decided: the event, the plain
    words of its refusal's reason, and the citizen's study it asked for (its date and dataset
    titles, as the citizen knows them)."""

    event: NodeAccessEvent
    study_date: date | None
    dataset_titles: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return self.event.decision == NodeAccessEvent.Decision.ALLOWED

    @property
    def reason(self) -> str:
        return "" if self.allowed else reason_words(self.event.reason)

    @property
    def permit(self) -> Permit | None:
        token = self.event.token
        return token.permit if token is not None else None


def _donor_events(citizen: User, page: Page) -> list[DonorEvent]:
    events: list[NodeAccessEvent] = list(page.object_list)
    studies: dict[tuple[int, str], tuple[date | None, list[str]]] = {}
    rows = (
        donor_studies(citizen)
        .filter(study_instance_uid__in={event.study_instance_uid for event in events})
        .order_by("dataset__title", "pk")
        .values_list("dataset__node", "study_instance_uid", "study_date", "dataset__title")
    )
    for node_id, uid, study_date, title in rows:
        known = studies.setdefault((node_id, uid), (study_date, []))
        known[1].append(title)
    found = []
    for event in events:
        study_date, titles = studies.get((event.node_id, event.study_instance_uid), (None, []))
        found.append(DonorEvent(event=event, study_date=study_date, dataset_titles=tuple(titles)))
    return found


@dataclass(frozen=True)
class DonorOverview:
    """Everything the donor's page shows: their links, the datasets holding their studies, a
    page of the permits that granted those datasets (newest first) and a page of the access
    events nodes reported for their studies (newest first)."""

    links: list[DonorLink]
    datasets: list[Dataset]
    permits: Page
    events: Page


def donor_overview(
    citizen: User, *, permits_page: object = 1, events_page: object = 1
) -> DonorOverview:
    """The citizen's :class:`DonorOverview` in a fixed number of queries (at most nine)."""
    links = list(donor_links_of(citizen))
    if not links:
        empty = Paginator([], PERMITS_PER_PAGE).get_page(1)
        return DonorOverview(links=[], datasets=[], permits=empty, events=empty)
    datasets = donor_datasets(citizen)
    permits = (
        Permit.objects.filter(datasets__in=[dataset.pk for dataset in datasets])
        .distinct()
        .select_related("application")
        .order_by("-starts_on", "-issued_at", "-pk")
    )
    permit_page = Paginator(permits, PERMITS_PER_PAGE).get_page(permits_page)
    permit_page.object_list = _permit_uses(permit_page, datasets)
    event_page = Paginator(donor_access_events(citizen), EVENTS_PER_PAGE).get_page(events_page)
    event_page.object_list = _donor_events(citizen, event_page)
    return DonorOverview(links=links, datasets=datasets, permits=permit_page, events=event_page)

"""Reads and the access checks for applications, reviews and permits.

One access function per object type; each answers 404 both for "does not exist" and for
"not yours". Who sees an application: its applicant; team members who accepted; members of a
committee it was routed to (once submitted, unless they are a party to it); access-body
administrators (once submitted). Nobody takes part in the review of an application they are a
party to (``access.permissions.is_party``).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, Exists, OuterRef, Q, QuerySet, When
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from access.models import (
    AccessToken,
    Application,
    ApplicationDataset,
    Comment,
    Committee,
    ConflictOfInterest,
    Permit,
    Review,
    SigningKey,
    TeamMember,
)
from access.permissions import (
    committees_of,
    is_addressee,
    is_party,
    may_chair,
    may_change_permit,
    may_review,
    may_revoke_token,
    may_see_permit_tokens,
    parties_by_application,
    party_filter,
    seats_by_committee,
)
from catalogue.models import Dataset, Node, Study
from catalogue.selectors import operated_nodes
from portal.models import AnyUser, Role, User
from portal.workflow import NotPermitted


def _is_admin(user: AnyUser) -> bool:
    return user.is_authenticated and user.has_role(Role.HDAB_ADMIN)


def governing_committees(dataset: Dataset) -> QuerySet[Committee]:
    """Committees governing ``dataset``: those naming it, else those governing its node."""
    named = Committee.objects.filter(datasets=dataset)
    if named.exists():
        return named
    return Committee.objects.filter(nodes=dataset.node_id)


def visible_applications(user: AnyUser) -> QuerySet[Application]:
    if not user.is_authenticated:
        return Application.objects.none()
    if _is_admin(user):
        mine_or_submitted = Q(applicant=user) | ~Q(status=Application.Status.DRAFT)
        return Application.objects.filter(mine_or_submitted)
    accepted = TeamMember.objects.filter(
        application=OuterRef("pk"), user=user, status=TeamMember.Status.ACCEPTED
    )
    routed = Review.objects.filter(application=OuterRef("pk"), committee__in=committees_of(user))
    return Application.objects.filter(
        Q(applicant=user)
        | Q(Exists(accepted))
        | (Q(Exists(routed)) & ~Q(status=Application.Status.DRAFT) & ~party_filter(user))
    )


def access_application(user: AnyUser, pk: int | str, *, for_write: bool = False) -> Application:
    """An application ``user`` may read; with ``for_write``, one they may change: only its
    applicant (holding the researcher role) ever may."""
    if for_write:
        if not (user.is_authenticated and user.has_role(Role.RESEARCHER)):
            raise Http404
        applications = Application.objects.filter(applicant=user)
    else:
        applications = visible_applications(user).select_related("applicant")
    try:
        return applications.get(pk=pk)
    except (Application.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def access_invitation(user: AnyUser, token: str) -> TeamMember:
    """An invitation addressed to ``user``'s email. Unknown tokens and invitations sent to
    someone else get the same answer, 404."""
    member = (
        TeamMember.objects.filter(token=str(token)).select_related("application__applicant").first()
    )
    if member is None or not is_addressee(user, member):
        raise Http404
    return member


def access_committee(user: AnyUser, pk: int | str) -> Committee:
    """A committee the access body manages (nobody else manages committees)."""
    if not _is_admin(user):
        raise Http404
    try:
        return Committee.objects.get(pk=pk)
    except (Committee.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def access_review(user: AnyUser, pk: int | str, *, as_chair: bool = False) -> Review:
    """A committee review ``user`` takes part in (as a member, or with ``as_chair`` as the
    chair). The applicant and their team never do, whatever seats they hold: for them the
    review does not exist (404). A member who is not the chair sees it, so is refused (403)."""
    try:
        review = Review.objects.select_related("application", "committee").get(pk=pk)
    except (Review.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if not may_review(user, review) or review.application.status == Application.Status.DRAFT:
        raise Http404
    if as_chair and not may_chair(user, review):
        raise NotPermitted(_("Only the chair of %s can decide.") % review.committee)
    return review


def visible_permits(user: AnyUser) -> QuerySet[Permit]:
    if not user.is_authenticated:
        return Permit.objects.none()
    if _is_admin(user):
        return Permit.objects.all()
    return Permit.objects.filter(
        Q(holder=user) | Q(authorised_persons=user) | Q(review__committee__in=committees_of(user))
    ).distinct()


def access_permit(user: AnyUser, pk: int | str, *, for_change: bool = False) -> Permit:
    """A permit ``user`` may see; with ``for_change``, one they may suspend or revoke
    (the chair of the committee that issued it, or an access-body administrator). 404 for a
    permit they cannot see; 403 for one they see but may not change."""
    try:
        permit = (
            visible_permits(user)
            .select_related("review__committee", "holder", "application")
            .get(pk=pk)
        )
    except (Permit.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if for_change and not may_change_permit(user, permit):
        raise NotPermitted(
            _("Only the issuing committee's chair or the access body can change this permit.")
        )
    return permit


def permit_for_token(user: AnyUser, pk: int | str) -> Permit:
    """A permit ``user`` may ask a token under: first (one small query) among the permits that
    name them as authorised, else any permit they may see (the service then says why not), else
    404. Issuing tokens is the busiest write of the portal."""
    if user.is_authenticated:
        try:
            return Permit.objects.get(pk=pk, authorised_persons=user)
        except (Permit.DoesNotExist, ValueError, TypeError):
            pass
    return access_permit(user, pk)


def committee_queue(user: User) -> QuerySet[Review]:
    """Reviews of ``user``'s committees on submitted applications, soonest deadline first,
    leaving out applications ``user`` is a party to."""
    return (
        Review.objects.filter(committee__in=committees_of(user))
        .exclude(application__status=Application.Status.DRAFT)
        .exclude(party_filter(user, "application__"))
        .select_related("application", "application__applicant", "committee")
        .annotate(open_first=Case(When(status=Review.Status.PENDING, then=0), default=1))
        .order_by("open_first", "application__decision_due", "pk")
    )


def is_overdue(application: Application, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return bool(
        application.status in Application.OPEN
        and application.decision_due
        and application.decision_due < now
    )


def due_soon(application: Application, *, days: int = 14, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return bool(
        application.status in Application.OPEN
        and application.decision_due
        and now <= application.decision_due < now + timedelta(days=days)
    )


def visible_comments(user: User, application: Application) -> QuerySet[Comment]:
    """Comments on ``application`` that ``user`` may read. The applicant and their team see
    only those meant for the applicant, whatever other roles they hold; committee members also
    see their own committees' internal remarks; the access body sees all."""
    comments = application.comments.select_related("author", "committee")
    if is_party(user, application):
        return comments.filter(visible_to_applicant=True)
    if user.has_role(Role.HDAB_ADMIN):
        return comments
    return comments.filter(Q(visible_to_applicant=True) | Q(committee__in=committees_of(user)))


# --- Who may vote and decide ------------------------------------------------------------------

EXCLUSION_REASONS = {
    "applicant": _("is the applicant"),
    "team": _("is named on the applicant's team"),
    "conflict": _("declared a conflict of interest"),
}


@dataclass(frozen=True)
class ReviewCapacity:
    """Who may vote on and decide a review, and who is left out and why.

    ``voters`` are the committee's members who are neither a party to the application nor
    conflicted; ``deciders`` are the chairs among them. A review is *stuck* when nobody left can
    bring it to a decision: under the chair rule no chair may decide; under the other rules
    nobody may vote and no chair may decide.
    """

    rule: str
    voters: frozenset[int]
    deciders: frozenset[int]
    excluded: tuple[tuple[User, str], ...] = field(default=())
    seats: int = 0

    @property
    def stuck(self) -> bool:
        if self.rule == Committee.DecisionRule.CHAIR:
            return not self.deciders
        return not self.voters and not self.deciders

    @property
    def why(self) -> str:
        """Why nobody may vote or decide, in plain words (empty when the review can move)."""
        if not self.stuck:
            return ""
        if not self.seats:
            return _("The committee has no members.")
        people = "; ".join(
            f"{person.display_name} {EXCLUSION_REASONS[reason]}" for person, reason in self.excluded
        )
        if self.rule == Committee.DecisionRule.CHAIR and self.voters:
            if not people:
                return _("The committee has no chair.")
            return _("No chair may decide: %s.") % people
        return _("Nobody may vote or decide: %s.") % people


def review_capacities(reviews: Iterable[Review]) -> dict[int, ReviewCapacity]:
    """:class:`ReviewCapacity` of each review, in a fixed number of queries."""
    reviews = list(reviews)
    if not reviews:
        return {}
    seats = seats_by_committee({r.committee_id for r in reviews})
    parties = parties_by_application({r.application_id for r in reviews})
    conflicts: dict[int, set[int]] = defaultdict(set)
    for review_id, member_id in ConflictOfInterest.objects.filter(review__in=reviews).values_list(
        "review_id", "member_id"
    ):
        conflicts[review_id].add(member_id)
    left_out: dict[int, list[tuple[int, str]]] = {}
    for review in reviews:
        rows = []
        for member_id in seats[review.committee_id]:
            reason = parties[review.application_id].get(member_id)
            if reason is None and member_id in conflicts[review.pk]:
                reason = "conflict"
            if reason:
                rows.append((member_id, reason))
        left_out[review.pk] = rows
    people = User.objects.in_bulk({pk for rows in left_out.values() for pk, _r in rows})
    capacities = {}
    for review in reviews:
        members = seats[review.committee_id]
        out = {pk for pk, _r in left_out[review.pk]}
        voters = frozenset(pk for pk in members if pk not in out)
        capacities[review.pk] = ReviewCapacity(
            rule=review.committee.decision_rule,
            voters=voters,
            deciders=frozenset(pk for pk in voters if members[pk]),
            excluded=tuple(
                (people[pk], reason)
                for pk, reason in sorted(left_out[review.pk], key=lambda row: row[0])
                if pk in people
            ),
            seats=len(members),
        )
    return capacities


def review_capacity(review: Review) -> ReviewCapacity:
    return review_capacities([review])[review.pk]


def stuck_reviews(committee: Committee | None = None) -> list[tuple[Review, ReviewCapacity]]:
    """Pending reviews of open applications that nobody may vote on or decide (for the access
    body's dashboard and the committee page), soonest deadline first."""
    pending = Review.objects.filter(
        status=Review.Status.PENDING, application__status__in=Application.OPEN
    ).select_related("application", "committee")
    if committee is not None:
        pending = pending.filter(committee=committee)
    soonest_first = list(pending.order_by("application__decision_due", "pk"))
    capacities = review_capacities(soonest_first)
    return [(r, capacities[r.pk]) for r in soonest_first if capacities[r.pk].stuck]


def open_party_reviews(committee: Committee, user: User) -> QuerySet[Review]:
    """Pending reviews of ``committee`` on open applications ``user`` is a party to: those
    they would be excluded from if they sat on it."""
    return (
        Review.objects.filter(
            committee=committee,
            status=Review.Status.PENDING,
            application__status__in=Application.OPEN,
        )
        .filter(party_filter(user, "application__"))
        .select_related("application")
        .order_by("application_id")
    )


@dataclass(frozen=True)
class ApplicationViewer:
    """Who is looking at an application page, and which side of it they see.

    The applicant's side (the applicant and their team, invited or accepted) never sees the
    committees' side, even when they sit on a committee or belong to the access body. A member
    of a reviewing committee sees that committee's panel; the access body sees every
    committee's side without a panel.
    """

    is_applicant: bool
    is_party: bool
    is_admin: bool
    committees: frozenset[int]  # the reviewing committees whose panels they see

    @property
    def sees_internal(self) -> bool:
        return not self.is_party and (self.is_admin or bool(self.committees))


def application_viewer(
    user: User, application: Application, reviews: Iterable[Review]
) -> ApplicationViewer:
    party = is_party(user, application)
    mine = set() if party else set(committees_of(user).values_list("pk", flat=True))
    return ApplicationViewer(
        is_applicant=application.applicant_id == user.pk,
        is_party=party,
        is_admin=user.has_role(Role.HDAB_ADMIN),
        committees=frozenset(r.committee_id for r in reviews if r.committee_id in mine),
    )


def applications_including(user: User, dataset_ids: list[int]) -> dict[int, list[Application]]:
    """For the basket: the applications ``user`` filed that include each of ``dataset_ids``
    and are not withdrawn, newest first (one query)."""
    items = (
        ApplicationDataset.objects.filter(application__applicant=user, dataset__in=dataset_ids)
        .exclude(application__status=Application.Status.WITHDRAWN)
        .select_related("application")
        .order_by("-application__created_at", "-application_id")
    )
    found: dict[int, list[Application]] = {}
    for item in items:
        found.setdefault(item.dataset_id, []).append(item.application)
    return found


# --- Access tokens, signing keys and what nodes are sent -------------------------------------


def visible_tokens(user: AnyUser) -> QuerySet[AccessToken]:
    """Tokens ``user`` may see: their own, those of permits they hold, those of permits their
    committees issued (unless they are a party to the application), all for the access
    body."""
    if not user.is_authenticated:
        return AccessToken.objects.none()
    if _is_admin(user):
        return AccessToken.objects.all()
    issued_by_mine = Q(permit__review__committee__in=committees_of(user)) & ~party_filter(
        user, "permit__application__"
    )
    return AccessToken.objects.filter(Q(holder=user) | Q(permit__holder=user) | issued_by_mine)


def access_token(user: AnyUser, pk: int | str, *, for_write: bool = False) -> AccessToken:
    """A token ``user`` may see; with ``for_write``, one they may revoke (its holder, the
    permit's holder, the issuing committee's chair, the access body). 404 otherwise."""
    try:
        token = (
            visible_tokens(user)
            .select_related("permit__review__committee", "permit__application", "node", "holder")
            .get(pk=pk)
        )
    except (AccessToken.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if for_write and not may_revoke_token(user, token):
        raise Http404
    return token


def permit_tokens(user: User, permit: Permit) -> QuerySet[AccessToken]:
    """The tokens of ``permit`` that ``user`` sees (all of them, or their own), newest first."""
    tokens = AccessToken.objects.filter(permit=permit).select_related("node", "holder")
    if not may_see_permit_tokens(user, permit):
        tokens = tokens.filter(holder=user)
    return tokens.order_by("-issued_at", "-pk")


@dataclass(frozen=True)
class TokenNode:
    """A node where a permit grants datasets, and those datasets."""

    node: Node
    datasets: tuple[Dataset, ...]


def token_nodes(permit: Permit) -> list[TokenNode]:
    """The nodes holding datasets ``permit`` grants, by name, each with those datasets (one
    query)."""
    grouped: dict[int, list[Dataset]] = {}
    nodes: dict[int, Node] = {}
    for dataset in permit.datasets.select_related("node").order_by("node__name", "title"):
        nodes.setdefault(dataset.node_id, dataset.node)
        grouped.setdefault(dataset.node_id, []).append(dataset)
    return [TokenNode(node=nodes[pk], datasets=tuple(grouped[pk])) for pk in nodes]


def published_signing_keys(now: datetime | None = None) -> list[SigningKey]:
    """The keys the JWKS lists: the active key, the next key, and retired keys until their
    ``published_until``; active first, then next, then the most recently retired."""
    now = now or timezone.now()
    keys = SigningKey.objects.filter(
        Q(status__in=[SigningKey.Status.ACTIVE, SigningKey.Status.NEXT])
        | Q(status=SigningKey.Status.RETIRED, published_until__gt=now)
    )
    order = {SigningKey.Status.ACTIVE: 0, SigningKey.Status.NEXT: 1, SigningKey.Status.RETIRED: 2}
    return sorted(keys, key=lambda k: (order[SigningKey.Status(k.status)], -k.pk))


def connectable_nodes(user: AnyUser) -> QuerySet[Node]:
    """The nodes whose connection to the portal ``user`` manages: those they operate, or every
    node for the access body."""
    if _is_admin(user):
        return Node.objects.all()
    return operated_nodes(user)


def access_node_connection(user: AnyUser, pk: int | str) -> Node:
    """A node whose credentials ``user`` manages (its operators, the access body); 404
    otherwise."""
    try:
        return connectable_nodes(user).select_related("credential").get(pk=pk)
    except (Node.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def study_map_rows(node: Node) -> list[tuple[str, str, str]]:
    """``(StudyInstanceUID, dataset identifier, subject pseudonym)`` of every study of every
    published dataset at ``node`` (one query)."""
    rows = (
        Study.objects.filter(dataset__node=node, dataset__status=Dataset.Status.PUBLISHED)
        .order_by("study_instance_uid", "dataset__identifier")
        .values_list("study_instance_uid", "dataset__identifier", "subject")
    )
    return [(uid, str(dataset), subject) for uid, dataset, subject in rows]


# --- What the subjects' consents allow ----------------------------------------------------------


def use_codes(application: Application) -> frozenset[str]:
    """The DUO codes describing an application's use: those it declared, with the conditions
    the use meets (not commercial: NCU; with an ethics approval: IRB), as the consent decision
    reads them (docs/consent.md)."""
    from catalogue.duo import IRB, NCU

    codes = set(application.duo_codes or [])
    if not application.commercial:
        codes.add(NCU)
    if application.ethics_approval:
        codes.add(IRB)
    return frozenset(codes)


@dataclass(frozen=True)
class ConsentCount:
    """Of a dataset's subjects (``total``): how many the consents allow for an application's
    use, and why the others are not allowed."""

    dataset: Dataset
    total: int
    allowed: int
    withdrawn: int = 0
    opted_out: int = 0
    outside_donation: int = 0
    no_consent: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "dataset": str(self.dataset.identifier),
            "title": self.dataset.title,
            "subjects": self.total,
            "allowed": self.allowed,
            "not_allowed": {
                "withdrawn": self.withdrawn,
                "opted_out": self.opted_out,
                "outside_donation": self.outside_donation,
                "no_consent": self.no_consent,
            },
        }


def consent_counts(application: Application, reviews: Iterable[Review]) -> dict[int, list[Any]]:
    """For each review (by primary key), its datasets' :class:`ConsentCount` for the
    application's use (its EHDS purpose and :func:`use_codes`), as if approved now. Eight
    queries, whatever the number of reviews, datasets or subjects; callers check access."""
    from consent import selectors as consent_selectors

    items = list(
        ApplicationDataset.objects.filter(application=application, review__in=list(reviews))
        .select_related("dataset")
        .order_by("dataset__title")
    )
    datasets = {item.dataset_id: item.dataset for item in items}
    purpose, codes = application.purpose, use_codes(application)
    counts = consent_selectors.allowed_counts(
        datasets=list(datasets), purpose=purpose, duo_codes=codes
    )
    refused = consent_selectors.refusal_counts(
        datasets=list(datasets), purpose=purpose, duo_codes=codes
    )
    found: dict[int, list[Any]] = defaultdict(list)
    for item in items:
        if item.review_id is None:
            continue
        count = counts.get(item.dataset_id)
        causes = refused.get(item.dataset_id, {})
        found[item.review_id].append(
            ConsentCount(
                dataset=item.dataset,
                total=count.total if count else 0,
                allowed=count.allowed if count else 0,
                **causes,
            )
        )
    return found

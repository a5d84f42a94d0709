"""Who may act on applications' reviews and permits, as plain predicates.

Committee membership is held as django-guardian object permissions. On top of it sits the rule
that nobody reviews their own application: the applicant and every person named on its team
(invited or accepted) are *parties* to it, and a party is excluded from that application's
reviews, deadline and permits whatever committee seats or roles they hold.
"""

from collections.abc import Iterable
from typing import cast

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm, get_objects_for_user, get_users_with_perms, remove_perm

from access.models import (
    AccessToken,
    Application,
    Committee,
    ConflictOfInterest,
    Permit,
    Review,
    TeamMember,
)
from portal.models import AnyUser, Role, User

# Team members who are parties: invited (named by email, not answered yet) or accepted.
# A person who declined is not: otherwise an applicant could silence any committee member
# by naming them on the team.
PARTY_TEAM_STATUSES = (TeamMember.Status.INVITED, TeamMember.Status.ACCEPTED)

MEMBER = "access.review_committee"
CHAIR = "access.chair_committee"


def committees_of(user: AnyUser) -> QuerySet[Committee]:
    """The committees ``user`` is a member of (chairs are members too)."""
    if not (user.is_authenticated and user.has_role(Role.COMMITTEE_MEMBER)):
        return Committee.objects.none()
    return get_objects_for_user(user, MEMBER, klass=Committee, accept_global_perms=False)


def is_member(user: AnyUser, committee: Committee) -> bool:
    return committees_of(user).filter(pk=committee.pk).exists()


def is_chair(user: AnyUser, committee: Committee) -> bool:
    return (
        user.is_authenticated
        and user.has_role(Role.COMMITTEE_MEMBER)
        and get_objects_for_user(user, CHAIR, klass=Committee, accept_global_perms=False)
        .filter(pk=committee.pk)
        .exists()
    )


def _holders(committee: Committee, codename: str) -> QuerySet[User]:
    # Without ``attach_perms`` guardian answers a queryset of people; its annotation also
    # allows the list it answers with ``attach_perms``.
    return cast(QuerySet[User], get_users_with_perms(committee, only_with_perms_in=[codename]))


def members_of(committee: Committee) -> QuerySet[User]:
    """Active members of ``committee`` (people holding the member permission on it)."""
    return _holders(committee, "review_committee").filter(is_active=True).order_by("pk")


def chairs_of(committee: Committee) -> QuerySet[User]:
    return _holders(committee, "chair_committee").filter(is_active=True)


def grant_membership(committee: Committee, user: User, *, chair: bool) -> None:
    assign_perm(MEMBER, user, committee)
    if chair:
        assign_perm(CHAIR, user, committee)
    else:
        remove_perm(CHAIR, user, committee)


def revoke_membership(committee: Committee, user: User) -> None:
    remove_perm(MEMBER, user, committee)
    remove_perm(CHAIR, user, committee)


# --- Parties to an application ----------------------------------------------------------------


def _team_rows_of(user: User) -> Q:
    rows = Q(user=user)
    if user.email:
        rows |= Q(email__iexact=user.email)
    return rows & Q(status__in=PARTY_TEAM_STATUSES)


def is_party(user: AnyUser, application: Application) -> bool:
    """``user`` filed ``application`` or is named on its team (invited or accepted)."""
    if not user.is_authenticated:
        return False
    if application.applicant_id == user.pk:
        return True
    return TeamMember.objects.filter(_team_rows_of(user), application=application).exists()


def party_filter(user: User, prefix: str = "") -> Q:
    """A filter on applications (or, with ``prefix="application__"``, on objects pointing at
    one) matching those ``user`` is a party to."""
    team = TeamMember.objects.filter(_team_rows_of(user), application=OuterRef(f"{prefix}pk"))
    return Q(**{f"{prefix}applicant": user}) | Q(Exists(team))


def parties_by_application(application_ids: Iterable[int]) -> dict[int, dict[int, str]]:
    """For each application: user id → why they are a party ("applicant" or "team"), read in
    two queries whatever the number of applications."""
    parties: dict[int, dict[int, str]] = {pk: {} for pk in application_ids}
    for pk, applicant_id in Application.objects.filter(pk__in=parties).values_list(
        "pk", "applicant_id"
    ):
        parties[pk][applicant_id] = "applicant"
    rows = TeamMember.objects.filter(application__in=parties, status__in=PARTY_TEAM_STATUSES)
    emails: dict[str, list[int]] = {}
    for application_id, user_id, email in rows.values_list("application_id", "user_id", "email"):
        if user_id:
            parties[application_id].setdefault(user_id, "team")
        emails.setdefault(email.lower(), []).append(application_id)
    if emails:
        by_email = Q()
        for email in emails:
            by_email |= Q(email__iexact=email)
        for user_id, email in User.objects.filter(by_email).values_list("pk", "email"):
            for application_id in emails.get(email.lower(), ()):
                parties[application_id].setdefault(user_id, "team")
    return parties


def is_addressee(user: AnyUser, member: TeamMember) -> bool:
    """An invitation to a team is bound to the email address it was sent to."""
    if not user.is_authenticated or not user.email:
        return False
    return member.email.lower() == user.email.lower()


# --- Reviews, deadlines and permits -----------------------------------------------------------


def may_review(user: AnyUser, review: Review) -> bool:
    """A member of the reviewing committee who is not a party to the application."""
    return is_member(user, review.committee) and not is_party(user, review.application)


def may_chair(user: AnyUser, review: Review) -> bool:
    """The reviewing committee's chair, when not a party to the application."""
    return is_chair(user, review.committee) and not is_party(user, review.application)


def is_conflicted(user: AnyUser, review: Review) -> bool:
    """``user`` declared a conflict of interest on ``review``."""
    return (
        user.is_authenticated
        and ConflictOfInterest.objects.filter(review=review, member=user.pk).exists()
    )


def has_seat(user: AnyUser, review: Review, *, as_chair: bool = False) -> bool:
    """``user`` takes part in ``review`` (as its chair with ``as_chair``): a member of the
    reviewing committee who is neither a party to the application nor conflicted on it. A
    conflicted member keeps reading the review but asks, comments, votes, decides, extends the
    deadline and changes the permit no more, and is sent none of its emails."""
    allowed = may_chair(user, review) if as_chair else may_review(user, review)
    return allowed and not is_conflicted(user, review)


def may_extend_deadline(
    user: AnyUser, application: Application, reviews: Iterable[Review] | None = None
) -> bool:
    """The access body or a reviewing committee's chair with a seat on its review, none of
    them a party."""
    if not user.is_authenticated or is_party(user, application):
        return False
    if user.has_role(Role.HDAB_ADMIN):
        return True
    if reviews is None:
        reviews = application.reviews.select_related("committee")
    return any(has_seat(user, r, as_chair=True) for r in reviews)


def may_change_permit(user: AnyUser, permit: Permit) -> bool:
    """Suspend, reactivate or revoke: the access body or the issuing committee's chair with
    a seat on the review that issued it, never a party to the application."""
    if not user.is_authenticated or is_party(user, permit.application):
        return False
    return user.has_role(Role.HDAB_ADMIN) or has_seat(user, permit.review, as_chair=True)


# --- Seats in bulk ----------------------------------------------------------------------------


def seats_by_committee(committee_ids: Iterable[int]) -> dict[int, dict[int, bool]]:
    """For each committee: active member id → whether they chair it, in one query. Only
    people holding the committee-member role count, as in :func:`committees_of`."""
    seats: dict[int, dict[int, bool]] = {pk: {} for pk in committee_ids}
    if not seats:
        return seats
    holders = User.objects.filter(
        is_active=True, role_assignments__role=Role.COMMITTEE_MEMBER
    ).values("pk")
    rows = UserObjectPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(Committee),
        object_pk__in=[str(pk) for pk in seats],
        permission__codename__in=["review_committee", "chair_committee"],
        user__in=holders,
    ).values_list("object_pk", "user_id", "permission__codename")
    chairs = set()
    for object_pk, user_id, codename in rows:
        if codename == "review_committee":
            seats[int(object_pk)].setdefault(user_id, False)
        else:
            chairs.add((int(object_pk), user_id))
    for committee_id, user_id in chairs:
        if user_id in seats[committee_id]:
            seats[committee_id][user_id] = True
    return seats


# --- Access tokens ----------------------------------------------------------------------------


def may_issue_token(user: AnyUser, permit: Permit) -> bool:
    """A token is issued only to a person the permit names as authorised (the holder is one),
    whose account is active. Whether the permit allows it now is the service's check."""
    return (
        user.is_authenticated
        and user.is_active
        and permit.authorised_persons.filter(pk=user.pk).exists()
    )


def may_see_permit_tokens(user: AnyUser, permit: Permit) -> bool:
    """Every token of a permit is seen by its holder, the issuing committee's members and the
    access body; other authorised persons see their own."""
    if not user.is_authenticated:
        return False
    if permit.holder_id == user.pk or user.has_role(Role.HDAB_ADMIN):
        return True
    return is_member(user, permit.review.committee) and not is_party(user, permit.application)


def may_revoke_token(user: AnyUser, token: AccessToken) -> bool:
    """The person it was issued to, the permit's holder, and whoever may suspend the permit
    (the issuing committee's chair, the access body)."""
    if not user.is_authenticated:
        return False
    if user.pk in (token.holder_id, token.permit.holder_id):
        return True
    return may_change_permit(user, token.permit)

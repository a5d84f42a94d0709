"""Reads and the access checks for applications, reviews and permits.

One access function per object type; each answers 404 both for "does not exist" and for
"not yours". Who sees an application: its applicant; team members who accepted; members of a
committee it was routed to (once submitted); access-body administrators (once submitted).
"""

from datetime import timedelta

from django.db.models import Case, Exists, OuterRef, Q, QuerySet, When
from django.http import Http404
from django.utils import timezone

from access.models import Application, Committee, Permit, Review, TeamMember
from access.permissions import committees_of, is_chair, is_member
from catalogue.models import Dataset
from portal.models import Role


def _is_admin(user) -> bool:
    return user.is_authenticated and user.has_role(Role.HDAB_ADMIN)


def governing_committees(dataset: Dataset) -> QuerySet[Committee]:
    """Committees governing ``dataset``: those naming it, else those governing its node."""
    named = Committee.objects.filter(datasets=dataset)
    if named.exists():
        return named
    return Committee.objects.filter(nodes=dataset.node_id)


def visible_applications(user) -> QuerySet[Application]:
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
        | (Q(Exists(routed)) & ~Q(status=Application.Status.DRAFT))
    )


def access_application(user, pk) -> Application:
    """An application ``user`` may read."""
    try:
        return visible_applications(user).select_related("applicant").get(pk=pk)
    except (Application.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def access_own_application(user, pk) -> Application:
    """An application ``user`` filed (what only the applicant may change)."""
    if not (user.is_authenticated and user.has_role(Role.RESEARCHER)):
        raise Http404
    try:
        return Application.objects.get(pk=pk, applicant=user)
    except (Application.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def access_review(user, pk, *, as_chair: bool = False) -> Review:
    """A committee review ``user`` takes part in (as a member, or as the chair)."""
    try:
        review = Review.objects.select_related("application", "committee").get(pk=pk)
    except (Review.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    allowed = is_chair(user, review.committee) if as_chair else is_member(user, review.committee)
    if not allowed or review.application.status == Application.Status.DRAFT:
        raise Http404
    return review


def visible_permits(user) -> QuerySet[Permit]:
    if not user.is_authenticated:
        return Permit.objects.none()
    if _is_admin(user):
        return Permit.objects.all()
    return Permit.objects.filter(
        Q(holder=user) | Q(authorised_persons=user) | Q(review__committee__in=committees_of(user))
    ).distinct()


def access_permit(user, pk, *, for_change: bool = False) -> Permit:
    """A permit ``user`` may see; with ``for_change``, one they may suspend or revoke
    (the chair of the committee that issued it, or an access-body administrator)."""
    try:
        permit = visible_permits(user).select_related("review__committee", "holder").get(pk=pk)
    except (Permit.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if for_change and not (_is_admin(user) or is_chair(user, permit.review.committee)):
        raise Http404
    return permit


def committee_queue(user) -> QuerySet[Review]:
    """Reviews of ``user``'s committees on submitted applications, soonest deadline first."""
    return (
        Review.objects.filter(committee__in=committees_of(user))
        .exclude(application__status=Application.Status.DRAFT)
        .select_related("application", "application__applicant", "committee")
        .annotate(open_first=Case(When(status=Review.Status.PENDING, then=0), default=1))
        .order_by("open_first", "application__decision_due", "pk")
    )


def is_overdue(application: Application, *, now=None) -> bool:
    now = now or timezone.now()
    return bool(
        application.status in Application.OPEN
        and application.decision_due
        and application.decision_due < now
    )


def due_soon(application: Application, *, days: int = 14, now=None) -> bool:
    now = now or timezone.now()
    return bool(
        application.status in Application.OPEN
        and application.decision_due
        and now <= application.decision_due < now + timedelta(days=days)
    )


def visible_comments(user, application: Application):
    """Comments on ``application`` that ``user`` may read. The applicant and their team see
    only those meant for the applicant, whatever other roles they hold; committee members also
    see their own committees' internal remarks; the access body sees all."""
    comments = application.comments.select_related("author", "committee")
    on_team = (
        application.applicant_id == user.pk
        or application.team.filter(user=user, status=TeamMember.Status.ACCEPTED).exists()
    )
    if on_team:
        return comments.filter(visible_to_applicant=True)
    if user.has_role(Role.HDAB_ADMIN):
        return comments
    return comments.filter(Q(visible_to_applicant=True) | Q(committee__in=committees_of(user)))

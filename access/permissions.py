"""Committee membership, held as django-guardian object permissions, behind plain functions."""

from django.db.models import QuerySet
from guardian.shortcuts import assign_perm, get_objects_for_user, get_users_with_perms, remove_perm

from access.models import Committee
from portal.models import Role

MEMBER = "access.review_committee"
CHAIR = "access.chair_committee"


def committees_of(user) -> QuerySet[Committee]:
    """The committees ``user`` is a member of (chairs are members too)."""
    if not (user.is_authenticated and user.has_role(Role.COMMITTEE_MEMBER)):
        return Committee.objects.none()
    return get_objects_for_user(user, MEMBER, klass=Committee, accept_global_perms=False)


def is_member(user, committee: Committee) -> bool:
    return committees_of(user).filter(pk=committee.pk).exists()


def is_chair(user, committee: Committee) -> bool:
    return (
        user.is_authenticated
        and user.has_role(Role.COMMITTEE_MEMBER)
        and get_objects_for_user(user, CHAIR, klass=Committee, accept_global_perms=False)
        .filter(pk=committee.pk)
        .exists()
    )


def members_of(committee: Committee):
    """Active members of ``committee`` (people holding the member permission on it)."""
    return (
        get_users_with_perms(committee, only_with_perms_in=["review_committee"])
        .filter(is_active=True)
        .order_by("pk")
    )


def chairs_of(committee: Committee):
    return get_users_with_perms(committee, only_with_perms_in=["chair_committee"]).filter(
        is_active=True
    )


def grant_membership(committee: Committee, user, *, chair: bool) -> None:
    assign_perm(MEMBER, user, committee)
    if chair:
        assign_perm(CHAIR, user, committee)
    else:
        remove_perm(CHAIR, user, committee)


def revoke_membership(committee: Committee, user) -> None:
    remove_perm(MEMBER, user, committee)
    remove_perm(CHAIR, user, committee)

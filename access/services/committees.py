"""Writes on committees: scope, decision rule and members."""

from collections.abc import Collection

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from access.models import (
    Committee,
    Review,
)
from access.permissions import (
    grant_membership,
)
from access.selectors import (
    open_party_reviews,
)
from access.services.common import _record
from catalogue.models import Dataset, Node
from portal.models import Role, User

# --- Committees -----------------------------------------------------------------------------


@transaction.atomic
def committee_create(
    *,
    actor: User | None,
    name: str,
    decision_rule: str,
    datasets: Collection[Dataset] = (),
    nodes: Collection[Node] = (),
    description: str = "",
    email: str = "",
) -> Committee:
    committee = Committee(
        name=name, decision_rule=decision_rule, description=description, email=email
    )
    committee.full_clean()
    committee.save(force_insert=True)
    committee.datasets.set(datasets)
    committee.nodes.set(nodes)
    _record(
        "access.committee.created",
        actor,
        committee,
        datasets=[d.pk for d in datasets],
        nodes=[n.pk for n in nodes],
        rule=decision_rule,
    )
    return committee


@transaction.atomic
def committee_update(
    *,
    committee: Committee,
    actor: User | None,
    datasets: Collection[Dataset] | None = None,
    nodes: Collection[Node] | None = None,
    **fields: str,
) -> Committee:
    """Change a committee's description, decision rule or what it governs. Applications
    already routed keep their reviews; new submissions follow the new scope."""
    allowed = {"name", "description", "email", "decision_rule"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({f: _("cannot be changed here") for f in sorted(unknown)})
    locked = Committee.objects.select_for_update().get(pk=committee.pk)
    for field, value in fields.items():
        setattr(locked, field, value)
    locked.full_clean()
    locked.save(update_fields=sorted(fields))
    if datasets is not None:
        locked.datasets.set(datasets)
    if nodes is not None:
        locked.nodes.set(nodes)
    _record(
        "access.committee.updated",
        actor,
        locked,
        fields=sorted(fields),
        datasets=sorted(d.pk for d in locked.datasets.all()),
        nodes=sorted(n.pk for n in locked.nodes.all()),
    )
    return locked


@transaction.atomic
def committee_remove_member(*, committee: Committee, user: User, actor: User | None) -> None:
    from access.permissions import revoke_membership

    revoke_membership(committee, user)
    _record("access.committee.member_removed", actor, committee, member=user.pseudonym)


@transaction.atomic
def committee_add_member(*, committee: Committee, user: User, actor: User | None,
                         chair: bool = False) -> list[Review]:  # fmt: skip
    """Make ``user`` (who must hold the committee-member role) a member, or the chair.

    Returns the committee's open reviews of applications ``user`` is a party to (applicant or
    team): they are excluded from those, and the access body is warned."""
    if not user.has_role(Role.COMMITTEE_MEMBER):
        raise ValidationError(_("%s does not hold the committee member role.") % user.username)
    grant_membership(committee, user, chair=chair)
    excluded = list(open_party_reviews(committee, user))
    _record(
        "access.committee.member_added",
        actor,
        committee,
        member=user.pseudonym,
        chair=chair,
        excluded_from=[r.application_id for r in excluded],
    )
    return excluded

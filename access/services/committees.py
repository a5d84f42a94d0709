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
    chairs_of,
    grant_membership,
    members_of,
    revoke_membership,
)
from access.selectors import (
    open_party_reviews,
)
from access.services.common import _record
from access.services.reviews import reevaluate_committee
from catalogue.models import Dataset, Node
from portal.models import Role, User

# --- Committees -----------------------------------------------------------------------------


def _check_scope(
    committee: Committee | None, datasets: Collection[Dataset], nodes: Collection[Node]
) -> None:
    """Each dataset is governed by one committee: refuse naming a dataset another committee
    names, or governing a node another committee governs (its datasets nobody names would have
    two committees, and their applications could not be submitted). Naming a dataset of a node
    another committee governs is fine: the committee naming it governs it."""
    others = Committee.objects.exclude(pk=committee.pk) if committee else Committee.objects.all()
    errors: dict[str, list[str]] = {}
    named = (
        Dataset.objects.filter(pk__in=[d.pk for d in datasets], committees__in=others)
        .values_list("title", "committees__name")
        .order_by("title", "committees__name")
    )
    if named:
        errors["datasets"] = [
            _("“%(dataset)s” is already governed by %(committee)s.")
            % {"dataset": title, "committee": name}
            for title, name in named
        ]
    governed = (
        Node.objects.filter(pk__in=[n.pk for n in nodes], committees__in=others)
        .values_list("name", "committees__name")
        .order_by("name", "committees__name")
    )
    if governed:
        errors["nodes"] = [
            _("%(node)s is already governed by %(committee)s.") % {"node": n, "committee": name}
            for n, name in governed
        ]
    if errors:
        raise ValidationError(errors)


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
    _check_scope(None, datasets, nodes)
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


def _ids(items: Collection[Dataset] | Collection[Node]) -> list[int]:
    return sorted(item.pk for item in items)


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
    # What changed, each as {"old", "new"}, for the audit chain (datasets and nodes by id).
    changes: dict[str, dict[str, object]] = {}
    for field, value in fields.items():
        if getattr(locked, field) != value:
            changes[field] = {"old": getattr(locked, field), "new": value}
        setattr(locked, field, value)
    locked.full_clean()
    _check_scope(
        locked,
        locked.datasets.all() if datasets is None else datasets,
        locked.nodes.all() if nodes is None else nodes,
    )
    if datasets is not None and _ids(locked.datasets.all()) != _ids(datasets):
        changes["datasets"] = {"old": _ids(locked.datasets.all()), "new": _ids(datasets)}
        locked.datasets.set(datasets)
    if nodes is not None and _ids(locked.nodes.all()) != _ids(nodes):
        changes["nodes"] = {"old": _ids(locked.nodes.all()), "new": _ids(nodes)}
        locked.nodes.set(nodes)
    if not changes:
        return locked
    changed_fields = sorted(set(changes) & set(fields))
    if changed_fields:
        locked.save(update_fields=changed_fields)
    _record("access.committee.updated", actor, locked, changes=changes)
    if "decision_rule" in changes:
        reevaluate_committee(locked)
    return locked


@transaction.atomic
def committee_remove_member(*, committee: Committee, user: User, actor: User | None) -> None:
    """Remove a member. The committee's last chair cannot be removed (nobody could then decide
    under the chair rule, extend its deadlines or suspend its permits): make another member the
    chair first. The votes of its pending reviews are counted again without the member."""
    locked = Committee.objects.select_for_update().get(pk=committee.pk)
    was_chair = chairs_of(locked).filter(pk=user.pk).exists()
    if was_chair and not chairs_of(locked).exclude(pk=user.pk).exists():
        raise ValidationError(
            _(
                "%(person)s is the only chair of %(committee)s: make another member the chair "
                "first, so that someone can decide, extend deadlines and suspend its permits."
            )
            % {"person": user.display_name, "committee": locked.name}
        )
    revoke_membership(locked, user)
    _record(
        "access.committee.member_removed",
        actor,
        locked,
        member=user.pseudonym,
        chair=was_chair,
    )
    reevaluate_committee(locked)


@transaction.atomic
def committee_add_member(*, committee: Committee, user: User, actor: User | None,
                         chair: bool = False) -> list[Review]:  # fmt: skip
    """Make ``user`` (who must hold the committee-member role) a member, or the chair.

    Returns the committee's open reviews of applications ``user`` is a party to (applicant or
    team): they are excluded from those, and the access body is warned."""
    if not user.has_role(Role.COMMITTEE_MEMBER):
        raise ValidationError(_("%s does not hold the committee member role.") % user.username)
    if members_of(committee).filter(pk=user.pk).exists():
        raise ValidationError(
            {
                "user": _(
                    "%(person)s is already a member of %(committee)s. To change their role, "
                    "remove them and add them again."
                )
                % {"person": user.display_name, "committee": committee.name}
            }
        )
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

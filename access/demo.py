"""Demo committees for ``manage.py demo_data`` (development only)."""

from access.models import Committee
from access.services import committee_add_member, committee_create
from catalogue.models import Node


def load_demo_committees(*, chair) -> int:
    """One committee per demo node, chaired by ``chair``. Returns how many were created."""
    created = 0
    for slug, name, rule in [
        ("oslo", "Oslo imaging data access committee", Committee.DecisionRule.CHAIR),
        ("valencia", "Valencia imaging data access committee", Committee.DecisionRule.MAJORITY),
    ]:
        node = Node.objects.filter(slug=slug).first()
        if node is None or Committee.objects.filter(name=name).exists():
            continue
        committee = committee_create(actor=None, name=name, decision_rule=rule, nodes=[node])
        committee_add_member(committee=committee, user=chair, actor=None, chair=True)
        created += 1
    return created

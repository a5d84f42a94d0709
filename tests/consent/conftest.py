"""A citizen whose images sit at both demo nodes, linked to their account; studies of those
images and of other subjects in the nodes' published datasets."""

from types import SimpleNamespace

import pytest

from catalogue.models import Study
from catalogue.services import node_add_operator
from consent import services
from portal.models import Role
from tests.factories import UserFactory


def add_studies(dataset, *subjects):
    for subject in subjects:
        Study.objects.create(
            dataset=dataset, study_instance_uid=f"1.2.3.{dataset.pk}.{subject}", subject=subject
        )


@pytest.fixture
def donor(personas, catalogue):
    """``personas["citizen"]`` linked as ``oslo-7`` at Oslo and ``val-3`` at Valencia (the node
    operator runs both nodes); each published dataset also holds two subjects nobody linked."""
    operator = personas["node_operator"]
    node_add_operator(node=catalogue.other_node, user=operator, actor=None)
    citizen = personas["citizen"]
    for node, subject in ((catalogue.own_node, "oslo-7"), (catalogue.other_node, "val-3")):
        _link_code, code = services.link_code_issue(node=node, subject=subject, actor=operator)
        services.link_code_redeem(citizen=citizen, code=code)
    add_studies(catalogue.published, "oslo-7", "oslo-8", "oslo-9")
    add_studies(catalogue.other_published, "val-3", "val-4", "val-5")
    return SimpleNamespace(
        citizen=citizen,
        operator=operator,
        oslo=catalogue.own_node,
        valencia=catalogue.other_node,
        breast=catalogue.published,
        lung=catalogue.other_published,
    )


@pytest.fixture
def another_citizen(db):
    return UserFactory(username="second_citizen", roles=[Role.CITIZEN])

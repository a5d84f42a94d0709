"""The fixed cast of personas every test can use, one per role plus an outsider."""

import pytest
from django.core.cache import cache
from django.test import Client

from portal.models import Role
from tests.factories import UserFactory

PERSONAS = {
    "citizen": [Role.CITIZEN],
    "researcher": [Role.RESEARCHER],
    "other_researcher": [Role.RESEARCHER],
    "committee_member": [Role.COMMITTEE_MEMBER],
    "node_operator": [Role.NODE_OPERATOR],
    "hdab_admin": [Role.HDAB_ADMIN],
    "outsider": [],
}


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def personas(db):
    """A dict persona name → User. ``hdab_admin`` is also Django staff."""
    people = {
        name: UserFactory(username=name, roles=roles) for name, roles in PERSONAS.items()
    }
    people["hdab_admin"].is_staff = True
    people["hdab_admin"].is_superuser = True
    people["hdab_admin"].save(update_fields=["is_staff", "is_superuser"])
    return people


@pytest.fixture
def client_for(personas):
    """``client_for("researcher")`` gives a test client logged in as that persona."""

    def make(name: str) -> Client:
        client = Client()
        if name != "anonymous":
            client.force_login(personas[name])
        return client

    return make


def pytest_collection_modifyitems(config, items):
    """Benchmarks run only through ``make bench`` (``-m benchmark``)."""
    if "benchmark" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="benchmark: run with make bench")
    for item in items:
        if "benchmark" in item.keywords:
            item.add_marker(skip)

"""The fixed cast of personas every test can use, one per role plus an outsider."""

import pytest
from django.core.cache import cache
from django.test import Client

from portal.models import Role
from tests import audit_actions  # noqa: F401  (registers the actions only tests record)
from tests.factories import UserFactory

PERSONAS = {
    "citizen": [Role.CITIZEN],
    "researcher": [Role.RESEARCHER],
    "other_researcher": [Role.RESEARCHER],
    "committee_member": [Role.COMMITTEE_MEMBER],
    "committee_chair": [Role.COMMITTEE_MEMBER],
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
    people = {name: UserFactory(username=name, roles=roles) for name, roles in PERSONAS.items()}
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


def dataset_fields(**overrides):
    """Valid HealthDCAT-AP fields for ``catalogue.services.dataset_create``."""
    fields = {
        "title": "Breast MRI screening cohort",
        "description": "Dynamic contrast-enhanced breast MRI of a screening population.",
        "keywords": ["screening"],
        "conditions": ["breast cancer"],
        "health_categories": ["EHRS"],
        "access_rights": "NON_PUBLIC",
        "modalities": ["MR"],
        "body_parts": ["BREAST"],
        "access_conditions": ["REMOTE_PROCESSING"],
        "duo_codes": ["DUO:0000042"],
        "contact_name": "Data desk",
        "contact_email": "data@example.org",
        "min_age": 40,
        "max_age": 75,
    }
    return {**fields, **overrides}


@pytest.fixture
def catalogue(personas):
    """Two nodes (the first operated by ``node_operator``), a published and a draft dataset at
    the first, and a published and a draft dataset at the second."""
    from types import SimpleNamespace

    from catalogue.services import dataset_create, node_create

    own = node_create(
        actor=None,
        operators=[personas["node_operator"]],
        name="Oslo imaging node",
        slug="oslo",
        organisation="Oslo University Hospital",
        country="NO",
        contact_email="node@example.org",
        dicomweb_base_url="https://oslo.example.org/dicom-web",
        audience="urn:ecii:node:oslo",
    )
    other = node_create(
        actor=None,
        name="Valencia imaging node",
        slug="valencia",
        organisation="Hospital La Fe",
        country="ES",
        contact_email="node@lafe.example.org",
        dicomweb_base_url="https://valencia.example.org/dicom-web",
        audience="urn:ecii:node:valencia",
    )
    return SimpleNamespace(
        own_node=own,
        other_node=other,
        published=dataset_create(node=own, actor=None, status="published", **dataset_fields()),
        draft=dataset_create(node=own, actor=None, **dataset_fields(title="Oslo draft")),
        other_published=dataset_create(
            node=other,
            actor=None,
            status="published",
            **dataset_fields(
                title="Lung CT collection",
                description="Low-dose chest CT with nodules.",
                conditions=["lung cancer"],
                modalities=["CT"],
                body_parts=["CHEST"],
                access_conditions=["DOWNLOAD", "IN_SITU_PROCESSING"],
                duo_codes=["DUO:0000006", "DUO:0000046"],
                min_age=50,
                max_age=90,
            ),
        ),
        other_draft=dataset_create(
            node=other, actor=None, **dataset_fields(title="Valencia draft")
        ),
    )


def complete_application_fields(**overrides):
    """Everything ``access.services.application_update`` needs for a submittable application."""
    fields = {
        "lay_title": "Finding tumours earlier on scans",
        "lay_summary": "We teach a computer program to spot small tumours on scans.",
        "ai_use": "trained",
        "organisation": "Instituto de Oncologia",
        "purpose": "research_ai",
        "purpose_description": "Train and validate a lesion detection model.",
        "duo_codes": ["DUO:0000006"],
        "intended_use": "Model training in the secure processing environment.",
        "expected_benefit": "Earlier detection of cancer.",
        "data_form": "pseudonymised",
        "pseudonymisation_justification": "Longitudinal follow-up needs linked studies.",
        "legal_basis": "GDPR Art 6(1)(e), public interest task of the institute.",
        "safeguards": "No export of images; outputs checked before release.",
        "processing_months": 24,
        "tools": "Python, PyTorch, GPU nodes of the processing environment.",
        "ethics_not_required": "Approved under the national secondary-use framework.",
        "prohibited_uses_confirmed": True,
    }
    return {**fields, **overrides}


@pytest.fixture
def access(personas, catalogue):
    """Two committees: "Oslo DAC" (chair rule) governs the Oslo node, with ``committee_chair``
    as chair and ``committee_member`` as member; "Valencia DAC" (majority rule) governs the
    Lung CT dataset, with ``committee_chair`` as its only member and chair. A draft application
    by ``researcher`` asks for both published datasets; ``submitted`` is a submitted copy."""
    from types import SimpleNamespace

    from access import services

    oslo = services.committee_create(
        actor=None, name="Oslo DAC", decision_rule="chair", nodes=[catalogue.own_node]
    )
    services.committee_add_member(
        committee=oslo, user=personas["committee_chair"], actor=None, chair=True
    )
    services.committee_add_member(committee=oslo, user=personas["committee_member"], actor=None)
    valencia = services.committee_create(
        actor=None,
        name="Valencia DAC",
        decision_rule="majority",
        datasets=[catalogue.other_published],
    )
    services.committee_add_member(
        committee=valencia, user=personas["committee_chair"], actor=None, chair=True
    )

    def new_application(title="Lesion detection", submit=False):
        application = services.application_create(
            applicant=personas["researcher"],
            title=title,
            datasets=[catalogue.published, catalogue.other_published],
        )
        application = services.application_update(
            application=application, actor=personas["researcher"], **complete_application_fields()
        )
        if submit:
            application = services.application_submit(
                application=application, actor=personas["researcher"]
            )
        return application

    return SimpleNamespace(
        oslo=oslo,
        valencia=valencia,
        new_application=new_application,
        draft=new_application("Draft study"),
        submitted=new_application("Submitted study", submit=True),
    )

import pytest

# --- DICOM ingest ----------------------------------------------------------------------------


def _ingest_dataset_fields(**overrides):
    fields = {
        "title": "Ingest test collection",
        "description": "De-identified CT and MR studies indexed by the ingest tests.",
        "conditions": ["lung cancer"],
        "health_categories": ["EHRS"],
        "access_conditions": ["REMOTE_PROCESSING"],
        "contact_name": "Data desk",
        "contact_email": "data@example.org",
    }
    return {**fields, **overrides}


@pytest.fixture
def ingest_node(personas):
    """A node operated by the ``node_operator`` persona, for ingest tests."""
    from catalogue.services import node_create

    return node_create(
        actor=None,
        operators=[personas["node_operator"]],
        name="Ingest test node",
        slug="ingest-test",
        organisation="Ingest Test Hospital",
        country="NO",
        contact_email="ingest-node@example.org",
        dicomweb_base_url="https://ingest.example.org/dicom-web",
        audience="urn:ecii:node:ingest-test",
    )


@pytest.fixture
def make_ingest_dataset(ingest_node, personas):
    """``make_ingest_dataset(title=...)`` creates a fresh draft dataset at ``ingest_node``."""
    from catalogue.services import dataset_create

    def make(**overrides):
        return dataset_create(
            node=ingest_node, actor=personas["node_operator"], **_ingest_dataset_fields(**overrides)
        )

    return make


@pytest.fixture
def ingest_dataset(make_ingest_dataset):
    """An empty dataset (no modalities or counts yet) to ingest into."""
    return make_ingest_dataset()


# --- DCAT export -----------------------------------------------------------------------------


@pytest.fixture
def dcat_shapes():
    from tests.catalogue import shapes

    shapes.require_shapes()
    return shapes


@pytest.fixture
def dcat_node(personas):
    from catalogue.services import node_create

    return node_create(
        actor=personas["hdab_admin"],
        operators=[personas["node_operator"]],
        name="Valencia imaging node",
        slug="valencia",
        organisation="Hospital Universitari i Politècnic La Fe",
        country="ES",
        contact_email="node@lafe.example.org",
        dicomweb_base_url="https://valencia.example.org/dicomweb",
        audience="https://valencia.example.org",
    )

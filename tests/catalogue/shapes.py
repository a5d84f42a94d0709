"""The official SHACL shapes the DCAT export is validated against, loaded once per process.

The shapes are the official files, byte for byte, in the shared data folder (``SHARED_DATA_DIR``,
by default ``../shared/data`` beside the repository; docs/standards-artefacts.md says where each
comes from), combined for each access level as

    healthdcat-ap-r8/graph-guard.ttl + healthdcat-ap-r8/<level>-shapes.ttl
    + dcat-ap-3.0.1/html-shacl/shapes.ttl, validated with inference="rdfs".

pyshacl refuses the published HealthDCAT-AP files as they are (one ``sh:property`` has no
``sh:path``); ``_lift_pathless_constraints`` makes that constraint a node shape of its own when
they are loaded, changing nothing else.
"""

import functools
from pathlib import Path

from rdflib import RDF, Graph, Namespace, URIRef

from tests.standards import require_artefacts

LEVEL_FILES = {
    "PUBLIC": "healthdcat-ap-r8/public-shapes.ttl",
    "RESTRICTED": "healthdcat-ap-r8/restricted-shapes.ttl",
    "NON_PUBLIC": "healthdcat-ap-r8/non-public-shapes.ttl",
}
GUARD = "healthdcat-ap-r8/graph-guard.ttl"
DCAT_AP = "dcat-ap-3.0.1/html-shacl/shapes.ttl"
PURPOSE = "the HealthDCAT-AP validation of the DCAT export"
SH = Namespace("http://www.w3.org/ns/shacl#")
DCAT_DATASET = URIRef("http://www.w3.org/ns/dcat#Dataset")


def require_shapes() -> None:
    """Skip the calling test when the shapes are not there (fail instead when ``CI`` is set)."""
    require_artefacts(GUARD, *LEVEL_FILES.values(), DCAT_AP, purpose=PURPOSE)


def _files(level: str) -> list[Path]:
    return require_artefacts(GUARD, LEVEL_FILES[level], DCAT_AP, purpose=PURPOSE)


def _lift_pathless_constraints(graph: Graph) -> int:
    """Make each ``sh:property`` that has no ``sh:path`` (but an ``sh:or``) a node shape of its
    own targeting ``dcat:Dataset``: the HealthDCAT-AP Release 8 files hang one such constraint
    (hasStructuredData true requires hasVariables) on the Dataset shape, a form pyshacl refuses
    to load. Returns how many were lifted."""
    lifted = 0
    for shape, constraint in list(graph.subject_objects(SH.property)):
        if (constraint, SH.path, None) in graph or (constraint, SH["or"], None) not in graph:
            continue
        graph.remove((shape, SH.property, constraint))
        graph.add((constraint, RDF.type, SH.NodeShape))
        graph.add((constraint, SH.targetClass, DCAT_DATASET))
        lifted += 1
    return lifted


@functools.cache
def shapes(level: str) -> Graph:
    """The shapes graph for an access level (``PUBLIC``, ``RESTRICTED`` or ``NON_PUBLIC``)."""
    graph = Graph()
    for path in _files(level):
        graph.parse(path, format="turtle")
    _lift_pathless_constraints(graph)
    return graph


def validate(data: Graph, level: str) -> tuple[bool, str]:
    """Validate ``data`` against the shapes of ``level``: (conforms, the report as text)."""
    import pyshacl

    conforms, _, text = pyshacl.validate(
        data, shacl_graph=shapes(level), inference="rdfs", allow_warnings=True
    )
    return bool(conforms), text

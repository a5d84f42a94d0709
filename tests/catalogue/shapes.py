"""The official SHACL shapes the DCAT export is validated against, loaded once per process.

The shapes are the reference copies in the shared data folder (``SHARED_DATA_DIR``, by default
``../shared/data`` beside the repository), combined as its README's recipe says:

    graph-guard.ttl + healthdcat-ap-r8/loadable/<level>-shapes.ttl
    + dcat-ap-3.0.1/html-shacl/shapes.ttl, validated with inference="rdfs".
"""

import functools
import os
from pathlib import Path

import pytest
from rdflib import Graph

REPOSITORY = Path(__file__).resolve().parents[2]
LEVEL_FILES = {
    "PUBLIC": "public-shapes.ttl",
    "RESTRICTED": "restricted-shapes.ttl",
    "NON_PUBLIC": "non-public-shapes.ttl",
}


def shared_data_dir() -> Path:
    return Path(os.environ.get("SHARED_DATA_DIR") or REPOSITORY.parent / "shared" / "data")


def _files(level: str) -> list[Path]:
    data = shared_data_dir()
    return [
        data / "healthdcat-ap-r8" / "graph-guard.ttl",
        data / "healthdcat-ap-r8" / "loadable" / LEVEL_FILES[level],
        data / "dcat-ap-3.0.1" / "html-shacl" / "shapes.ttl",
    ]


def require_shapes() -> None:
    """Skip the calling test when the shapes are not there (fail instead when ``CI`` is set)."""
    files = dict.fromkeys(f for level in LEVEL_FILES for f in _files(level))
    missing = [str(f.relative_to(shared_data_dir())) for f in files if not f.is_file()]
    if not missing:
        return
    why = (
        f"SHACL shapes not found in {shared_data_dir()} (missing {', '.join(missing)}); "
        "set SHARED_DATA_DIR to the shared data folder"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{why}. CI is set, so the DCAT validation may not be skipped.", pytrace=False)
    pytest.skip(why)


@functools.cache
def shapes(level: str) -> Graph:
    """The shapes graph for an access level (``PUBLIC``, ``RESTRICTED`` or ``NON_PUBLIC``)."""
    graph = Graph()
    for path in _files(level):
        graph.parse(path, format="turtle")
    return graph


def validate(data: Graph, level: str) -> tuple[bool, str]:
    """Validate ``data`` against the shapes of ``level``: (conforms, the report as text)."""
    import pyshacl

    conforms, _, text = pyshacl.validate(
        data, shacl_graph=shapes(level), inference="rdfs", allow_warnings=True
    )
    return bool(conforms), text

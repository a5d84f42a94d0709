"""The official standards artefacts the conformance tests read, and where they find them.

They live outside the repository, in the shared data folder: ``SHARED_DATA_DIR``, by default
``../shared/data`` beside the repository. docs/standards-artefacts.md names each one's official
source and version and says how to place it; ``ARTEFACTS`` pins each file by its SHA-256.

A test that needs them calls ``require_artefacts``: where they are missing it is skipped, except
when the ``CI`` environment variable is set, where it fails, so CI never passes without the
conformance checks.
"""

import functools
import hashlib
import os
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]

# Path under the shared data folder → SHA-256 of the official file as published (with LF line
# endings: a copy saved with CRLF line endings or a byte-order mark is read as the same file).
ARTEFACTS = {
    "healthdcat-ap-r8/graph-guard.ttl": (
        "0df9d8580c584edac0af3829464d5a30ed549320a27b68be7314ec9d35d6d8e3"
    ),
    "healthdcat-ap-r8/public-shapes.ttl": (
        "64865de17c1e02995faafc5277b6879aad09ee65e9779b3ed6c5af63b8b17a48"
    ),
    "healthdcat-ap-r8/restricted-shapes.ttl": (
        "f3bb4d39502d46229eeb7d3de87741e02bc5bd8384a8ce46a78e00c26b109e19"
    ),
    "healthdcat-ap-r8/non-public-shapes.ttl": (
        "a3a437940302d3915042b986b0885c73f56f16ea2f6af66920e3cc13454adf75"
    ),
    "dcat-ap-3.0.1/html-shacl/shapes.ttl": (
        "7fe9815e0f32b10f5cbce74fa6ccd0290aae3ef9e5080fb84e2d8093eb984d1d"
    ),
    "duo/duo.owl": "6a34ce09ae07b1e37c6756e049c12129fd1104e7d9e6e2f8cee84d2ab374c45b",
}
DOC = "docs/standards-artefacts.md"


def shared_data_dir() -> Path:
    return Path(os.environ.get("SHARED_DATA_DIR") or REPOSITORY.parent / "shared" / "data")


@functools.cache
def _sha256(path: Path) -> str:
    content = path.read_bytes().removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n")
    return hashlib.sha256(content).hexdigest()


def require_artefacts(*names: str, purpose: str) -> list[Path]:
    """The paths of the artefacts ``names`` (keys of ``ARTEFACTS``) for ``purpose``.

    Missing ones skip the calling test, or fail it when ``CI`` is set. One that is there but is
    not the pinned version always fails it: the checks would mean something else.
    """
    unknown = [name for name in names if name not in ARTEFACTS]
    if unknown:
        raise ValueError(f"not listed in tests/standards.py ARTEFACTS: {', '.join(unknown)}")
    data = shared_data_dir()
    paths = [data / name for name in names]
    missing = [name for name, path in zip(names, paths, strict=True) if not path.is_file()]
    if missing:
        why = (
            f"{purpose} needs {', '.join(missing)} in {data}: set SHARED_DATA_DIR to the "
            f"shared data folder ({DOC} says where each file comes from)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{why}. CI is set, so the check may not be skipped.", pytrace=False)
        pytest.skip(why)
    for name, path in zip(names, paths, strict=True):
        if _sha256(path) != ARTEFACTS[name]:
            pytest.fail(
                f"{path} is not the version {purpose} expects (SHA-256 {_sha256(path)}, "
                f"expected {ARTEFACTS[name]}); {DOC} says which version to place",
                pytrace=False,
            )
    return paths

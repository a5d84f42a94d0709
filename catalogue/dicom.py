"""Reading one DICOM file's header and the de-identification gate in front of the study index.

Both live in the node package, so that the portal's ingest and the node's indexer apply the
same rules: the gate on plain header values in :mod:`access.node.deid` (basic and strict
profiles, PS3.15 Table E.1-1), and the reading of files into those values in
:mod:`access.node.indexer.reader`. This module gives the catalogue the names it uses. No Django
here: ingest runs :func:`read_headers` in worker processes, and its result is a small picklable
:class:`HeaderResult`.
"""

from access.node.deid import (
    BASIC,
    CLEAN_DESCRIPTORS_PATH,
    PROFILES,
    RETAINED_BY_OPTION,
    STRICT,
    TABLE_PATH,
    Header,
    HeaderResult,
    Status,
    clean_descriptors,
    gate,
    refusal_table,
    retained_by,
    tag_text,
)
from access.node.indexer.reader import check_dataset, read_header, read_headers

__all__ = [
    "BASIC",
    "CLEAN_DESCRIPTORS_PATH",
    "PROFILES",
    "RETAINED_BY_OPTION",
    "STRICT",
    "TABLE_PATH",
    "Header",
    "HeaderResult",
    "Status",
    "check_dataset",
    "clean_descriptors",
    "gate",
    "read_header",
    "read_headers",
    "refusal_table",
    "retained_by",
    "tag_text",
]

"""The de-identification gate, shared by the portal's ingest and the node's indexer.

It works on plain header values (:class:`Header`: elements as tag, VR and bytes or items) and
imports only the standard library, so both sides apply exactly the same rules: the basic
profile (PS3.15 Table E.1-1, :mod:`.gate` and :mod:`.table`) and the strict one
(:mod:`.strict`). Reading DICOM files into headers is :mod:`access.node.indexer.reader`'s job.
"""

from .gate import (
    Element,
    Header,
    HeaderResult,
    Status,
    Value,
    ascii_text,
    check,
    declared_options,
    gate,
    has_value,
    index_problems,
    parse_da,
)
from .strict import BASIC, PROFILES, STRICT, StrictRules
from .table import (
    CLEAN_DESCRIPTORS_PATH,
    RETAINED_BY_OPTION,
    TABLE_PATH,
    clean_descriptors,
    refusal_table,
    retained_by,
    tag_text,
)

__all__ = [
    "BASIC",
    "CLEAN_DESCRIPTORS_PATH",
    "PROFILES",
    "RETAINED_BY_OPTION",
    "STRICT",
    "TABLE_PATH",
    "Element",
    "Header",
    "HeaderResult",
    "Status",
    "StrictRules",
    "Value",
    "ascii_text",
    "check",
    "clean_descriptors",
    "declared_options",
    "gate",
    "has_value",
    "index_problems",
    "parse_da",
    "refusal_table",
    "retained_by",
    "tag_text",
]

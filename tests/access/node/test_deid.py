"""The de-identification gate in the node package (access.node.deid), on plain header values:
no file, no pydicom, the same rules the portal's ingest and the node's indexer apply."""

from datetime import date

import pytest

from access.node.deid import BASIC, STRICT, Header, Status, check, gate, has_value

UIDS = [
    (0x0020000D, "UI", b"1.2.3.4"),  # StudyInstanceUID
    (0x0020000E, "UI", b"1.2.3.4.5"),  # SeriesInstanceUID
    (0x00080018, "UI", b"1.2.3.4.5.6"),  # SOPInstanceUID
]


# What a reader gives the gate to name attributes (the indexer's reader: pydicom's dictionary).
KEYWORDS = {
    0x00101040: "PatientAddress",
    0x00081140: "ReferencedImageSequence",
    0x00100010: "PatientName",
    0x00080020: "StudyDate",
}


def _options(*codes):
    return [[(0x00080100, "SH", code.encode()), (0x00080102, "SH", b"DCM ")] for code in codes]


def _header(*extra, options=("113100",), patient_id=b"PSEUDO-1", **kwargs):
    elements = [
        (0x00080060, "CS", b"CT"),
        (0x00100010, "PN", b""),
        (0x00100020, "LO", patient_id),
        (0x00120062, "CS", b"YES "),
        (0x00120064, "SQ", _options(*options)),
        *UIDS,
        *extra,
    ]
    kwargs.setdefault("keyword", lambda tag: KEYWORDS.get(tag, ""))
    return Header(sorted(elements, key=lambda e: e[0]), **kwargs)


def test_a_deidentified_header_passes_both_profiles_and_gives_its_index_values():
    header = _header((0x00080020, "DA", b""), (0x00180015, "CS", b"CHEST "))
    assert gate(header, BASIC) == [] and gate(header, STRICT) == []
    result = check(header, "a.dcm", STRICT)
    assert result.status == Status.ACCEPTED
    assert (result.study_uid, result.patient_id, result.modality, result.body_part) == (
        "1.2.3.4", "PSEUDO-1", "CT", "CHEST"
    )  # fmt: skip


def test_an_x_or_z_attribute_with_a_value_is_refused_by_name():
    header = _header((0x00101040, "LO", b"1 Main Street"))  # PatientAddress, X
    assert gate(header) == [
        "(0010,1040) PatientAddress still has a value (PS3.15 basic profile: X)"
    ]


def test_without_a_dictionary_attributes_are_named_as_in_the_standards_table():
    header = _header((0x00101040, "LO", b"1 Main Street"), keyword=lambda tag: "")
    assert gate(header) == [
        "(0010,1040) Patient'sAddress still has a value (PS3.15 basic profile: X)"
    ]


def test_patient_identity_removed_must_be_yes():
    elements = [e for e in _header().elements if e[0] != 0x00120062]
    assert gate(Header(elements)) == ["(0012,0062) PatientIdentityRemoved is missing (must be YES)"]


def test_a_value_deep_in_sequences_is_found_with_its_path():
    inner = [[(0x00100010, "PN", b"Doe^Jane")]]
    header = _header((0x00081140, "SQ", [[(0x00081140, "SQ", inner)]]))
    assert gate(header) == [
        "(0008,1140) ReferencedImageSequence[1] > (0008,1140) ReferencedImageSequence[1] > "
        "(0010,0010) PatientName still has a value (PS3.15 basic profile: Z)"
    ]


def test_patient_name_may_repeat_the_pseudonym_only():
    assert gate(_header((0x00100010, "PN", b"PSEUDO-1^^"))) == []
    assert gate(_header((0x00100010, "PN", b"Doe^John"))) != []


def test_private_values_need_retain_safe_private():
    private = [(0x00090010, "LO", b"VENDOR"), (0x00091001, "UN", b"\x01\x02")]
    refused = gate(_header(*private))
    assert refused == [
        "2 private attribute(s) still have values, e.g. (0009,0010), (0009,1001) (PS3.15 "
        "basic profile: X unless Retain Safe Private, 113111, is declared)"
    ]
    assert gate(_header(*private, options=("113100", "113111"))) == []


def test_a_retain_option_keeps_only_its_own_attributes():
    study_date = (0x00080020, "DA", b"20200131")
    address = (0x00101040, "LO", b"1 Main Street")
    assert gate(_header(study_date)) == [
        "(0008,0020) StudyDate still has a value (PS3.15 basic profile: Z)"
    ]
    kept = _header(study_date, address, options=("113100", "113106"))
    assert gate(kept) == ["(0010,1040) PatientAddress still has a value (PS3.15 basic profile: X)"]
    result = check(_header(study_date, options=("113100", "113106")))
    assert result.status == Status.ACCEPTED and result.study_date == date(2020, 1, 31)


@pytest.mark.parametrize(
    ("element", "option", "reason"),
    [
        ((0x00081070, "PN", b"Riesmeier^J\xf6rg"), None, "holds a person's name"),
        ((0x00080080, "LO", b"General Hospital"), "113112", "Retain Institution Identity"),
        ((0x00081010, "SH", b"CT01"), "113109", "Retain Device Identity"),
        ((0x00080021, "DA", b"20200131"), "113107", "holds a date or time"),
        ((0x00280301, "CS", b"YES"), "113101", "text is burned into the pixels"),
    ],
)
def test_the_strict_profile_refuses_what_a_dummy_could_hide(element, option, reason):
    header = _header(element)
    assert gate(header, BASIC) == []
    refused = gate(header, STRICT)
    assert len(refused) == 1 and reason in refused[0], refused
    if option:
        assert gate(_header(element, options=("113100", option)), STRICT) == []


def test_text_outside_ascii_is_read_with_the_headers_decoder():
    latin = _header(
        (0x00100010, "PN", "Pseudo-Å".encode("latin-1")),
        patient_id="Pseudo-Å".encode("latin-1"),
        decode=lambda value, vr: value.decode("latin-1"),
    )
    assert gate(latin, STRICT) == []
    assert check(latin).patient_id == "Pseudo-Å"
    undecodable = _header((0x00100010, "PN", "Pseudo-Å".encode("latin-1")))  # no decoder
    assert gate(undecodable, BASIC) == [
        "(0010,0010) PatientName still has a value (PS3.15 basic profile: Z)"
    ]


def test_padding_is_no_value_but_binary_zero_is():
    assert not has_value("PN", b"^^  ") and not has_value("LO", b" \x00")
    assert has_value("US", b"\x00\x00") and not has_value("SQ", [])


def test_index_values_must_be_there_and_fit():
    missing = Header([e for e in _header().elements if e[0] != 0x00080018])
    result = check(missing, "m.dcm")
    assert result.status == Status.REFUSED
    assert result.reason == (
        "(0008,0018) SOPInstanceUID is missing or empty: the file cannot be indexed"
    )
    long_id = check(_header(patient_id=b"P" * 65))
    assert "(0010,0020) PatientID is longer than 64 characters" in long_id.reason

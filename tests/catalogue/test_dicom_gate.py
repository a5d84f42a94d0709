"""The de-identification gate and header reading in catalogue.dicom (no database)."""

import json
import pickle
from datetime import date

import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from catalogue import dicom
from catalogue.dicom import Status, check_dataset, read_header
from tests.catalogue.dicom_factory import deidentified, method_codes, write


def _item(**attributes) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def _read(tmp_path, ds, name="file.dcm"):
    return read_header(write(ds, tmp_path / name))


def test_it_accepts_a_deidentified_file_and_reads_the_index_fields(tmp_path):
    ds = deidentified(patient_id="PSEUDO-7", modality="MR", body_part="BREAST")
    result = _read(tmp_path, ds)
    assert result.status == Status.ACCEPTED, result.reason
    assert (result.study_uid, result.series_uid, result.sop_uid) == (
        ds.StudyInstanceUID,
        ds.SeriesInstanceUID,
        ds.SOPInstanceUID,
    )
    assert (result.patient_id, result.modality, result.body_part) == ("PSEUDO-7", "MR", "BREAST")
    assert result.study_date is None
    assert pickle.loads(pickle.dumps(result)) == result  # noqa: S301 (our own bytes)


def test_it_refuses_an_address_and_names_the_attribute(tmp_path):
    result = _read(tmp_path, deidentified(PatientAddress="1 Main Street"))
    assert result.status == Status.REFUSED
    assert result.reason == (
        "(0010,1040) PatientAddress still has a value (PS3.15 basic profile: X)"
    )


@pytest.mark.parametrize("value", [None, "NO", ""])
def test_it_refuses_unless_patient_identity_removed_is_yes(tmp_path, value):
    ds = deidentified()
    if value is None:
        del ds.PatientIdentityRemoved
    else:
        ds.PatientIdentityRemoved = value
    result = _read(tmp_path, ds)
    assert result.status == Status.REFUSED
    assert result.reason.startswith("(0012,0062) PatientIdentityRemoved ")
    assert "must be YES" in result.reason


def test_it_refuses_a_name_left_in_a_z_attribute_but_keeps_the_pseudonymous_patient_id(tmp_path):
    result = _read(tmp_path, deidentified(patient_id="P-1", PatientName="Doe^Jane"))
    assert result.status == Status.REFUSED
    assert result.reason == "(0010,0010) PatientName still has a value (PS3.15 basic profile: Z)"


def test_it_lets_combined_actions_keep_a_dummy_value(tmp_path):
    # InstitutionName X/Z/D, StationName X/Z/D, ContentDate Z/D, AcquisitionDate X/Z,
    # ProtocolName X/D, the UIDs U.
    ds = deidentified(
        InstitutionName="Anonymised",
        StationName="STATION",
        ContentDate="20000101",
        AcquisitionDate="20000101",
        ProtocolName="CHEST",
    )
    assert _read(tmp_path, ds).status == Status.ACCEPTED


def test_it_finds_an_identifying_value_inside_a_sequence(tmp_path):
    ds = deidentified(
        ReferencedImageSequence=Sequence(
            [
                _item(ReferencedSOPInstanceUID="1.2.3"),
                _item(ReferencedSOPInstanceUID="1.2.4", PatientAddress="1 Main Street"),
            ]
        )
    )
    result = _read(tmp_path, ds)
    assert result.status == Status.REFUSED
    assert result.reason == (
        "(0008,1140) ReferencedImageSequence[2] > (0010,1040) PatientAddress still has a value "
        "(PS3.15 basic profile: X)"
    )


def test_it_looks_into_nested_sequences(tmp_path):
    inner = Sequence([_item(PatientBirthName="Smith^Jane")])
    ds = deidentified(ReferencedImageSequence=Sequence([_item(ReferencedImageSequence=inner)]))
    result = _read(tmp_path, ds)
    assert result.status == Status.REFUSED
    assert "ReferencedImageSequence[1] > (0008,1140) ReferencedImageSequence[1] > " in (
        result.reason
    )
    assert "(0010,1005) PatientBirthName still has a value" in result.reason


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian])
def test_it_reads_other_transfer_syntaxes_to_the_same_verdicts(tmp_path, syntax):
    ds = deidentified(ReferencedImageSequence=Sequence([_item(PatientAddress="1 Main Street")]))
    block = ds.private_block(0x0011, "EXAMPLE VENDOR", create=True)
    block.add_new(0x01, "LO", "scanner detail")
    result = read_header(write(ds, tmp_path / "bad.dcm", syntax))
    assert result.status == Status.REFUSED
    assert "ReferencedImageSequence[1] > (0010,1040) PatientAddress" in result.reason
    assert "2 private attribute(s)" in result.reason
    good = deidentified(StudyDate="20200101", options=("113100", "113107"))
    result = read_header(write(good, tmp_path / "good.dcm", syntax))
    assert result.status == Status.ACCEPTED, result.reason
    assert result.study_date == date(2020, 1, 1)
    # Truncation is found whatever the encoding.
    whole = (tmp_path / "good.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(whole[:-10])
    assert read_header(tmp_path / "cut.dcm").reason.startswith("truncated")


def test_it_refuses_a_sequence_with_action_x_that_has_items(tmp_path):
    ds = deidentified(OtherPatientIDsSequence=Sequence([_item(PatientID="H-123")]))
    result = _read(tmp_path, ds)
    assert result.status == Status.REFUSED
    assert result.reason == (
        "(0010,1002) OtherPatientIDsSequence still has a value (PS3.15 basic profile: X)"
    )
    # An empty sequence is no value.
    ds = deidentified(OtherPatientIDsSequence=Sequence())
    assert _read(tmp_path, ds, "empty.dcm").status == Status.ACCEPTED


def test_it_refuses_private_attributes_unless_retain_safe_private_is_declared(tmp_path):
    ds = deidentified()
    block = ds.private_block(0x0009, "EXAMPLE VENDOR", create=True)
    block.add_new(0x01, "LO", "scanner detail")
    result = _read(tmp_path, ds)
    assert result.status == Status.REFUSED
    assert "2 private attribute(s) still have values, e.g. (0009,0010), (0009,1001)" in (
        result.reason
    )
    assert "113111" in result.reason

    ds.DeidentificationMethodCodeSequence = method_codes("113100", "113111")
    assert _read(tmp_path, ds, "kept.dcm").status == Status.ACCEPTED


def test_it_refuses_dates_unless_a_longitudinal_option_is_declared(tmp_path):
    ds = deidentified(StudyDate="20190304", StudyTime="101500")
    result = _read(tmp_path, ds)
    assert result.status == Status.REFUSED
    assert "(0008,0020) StudyDate still has a value (PS3.15 basic profile: Z)" in result.reason
    assert "(0008,0030) StudyTime still has a value" in result.reason

    for option in ("113106", "113107"):
        ds.DeidentificationMethodCodeSequence = method_codes("113100", option)
        result = _read(tmp_path, ds, f"{option}.dcm")
        assert result.status == Status.ACCEPTED, result.reason
        assert result.study_date == date(2019, 3, 4)


def test_it_never_lets_the_birth_date_through_even_with_dates_retained(tmp_path):
    ds = deidentified(PatientBirthDate="19600101", options=("113100", "113106"))
    result = _read(tmp_path, ds)
    assert result.status == Status.REFUSED
    assert "(0010,0030) PatientBirthDate still has a value" in result.reason


@pytest.mark.parametrize(
    ("option", "attributes"),
    [
        ("113108", {"PatientSex": "F", "PatientAge": "054Y", "PatientWeight": "70"}),
        ("113109", {"DeviceDescription": "Scanner in room 3", "GantryID": "G-7"}),
        ("113112", {"InstitutionAddress": "Main Street 1", "InstitutionalDepartmentName": "RAD"}),
    ],
)
def test_it_honours_the_retain_options(tmp_path, option, attributes):
    refused = _read(tmp_path, deidentified(**attributes), "basic.dcm")
    assert refused.status == Status.REFUSED
    for keyword in attributes:
        assert keyword in refused.reason
    kept = _read(tmp_path, deidentified(options=("113100", option), **attributes), "kept.dcm")
    assert kept.status == Status.ACCEPTED, kept.reason


def test_an_option_keeps_only_its_own_attributes(tmp_path):
    ds = deidentified(options=("113100", "113108"), PatientSex="M", PatientAddress="Somewhere")
    result = _read(tmp_path, ds)
    assert result.status == Status.REFUSED
    assert "PatientAddress" in result.reason and "PatientSex" not in result.reason


def test_it_matches_repeating_group_tags(tmp_path):
    ds = deidentified()
    ds.add_new(0x60020010, "US", 8)  # OverlayRows: not in the table
    ds.add_new(0x60024000, "LT", "drawn by Dr Smith")  # OverlayComments (60XX,4000) X
    result = _read(tmp_path, ds)
    assert result.status == Status.REFUSED
    assert result.reason == (
        "(6002,4000) OverlayComments still has a value (PS3.15 basic profile: X)"
    )


@pytest.mark.parametrize(
    ("keyword", "message"),
    [
        ("StudyInstanceUID", "(0020,000D) StudyInstanceUID is missing or empty"),
        ("SeriesInstanceUID", "(0020,000E) SeriesInstanceUID is missing or empty"),
        ("SOPInstanceUID", "(0008,0018) SOPInstanceUID is missing or empty"),
        ("PatientID", "(0010,0020) PatientID is missing or empty"),
    ],
)
def test_it_refuses_files_it_cannot_index(tmp_path, keyword, message):
    ds = deidentified()
    delattr(ds, keyword)
    result = check_dataset(ds, "x.dcm")
    assert result.status == Status.REFUSED
    assert result.reason.startswith(message)


def test_it_lists_every_problem_of_an_identifying_file(tmp_path):
    result = read_header(get_testdata_file("CT_small.dcm"))
    assert result.status == Status.REFUSED
    assert result.reason.startswith("(0012,0062) PatientIdentityRemoved is missing")
    assert "PatientName still has a value" in result.reason
    assert result.reason.endswith("more")


def test_it_reports_a_text_file_as_not_dicom(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image\n" * 20)
    result = read_header(path)
    assert result.status == Status.UNREADABLE
    assert result.reason.startswith("not a DICOM file")


def test_it_reports_an_empty_file(tmp_path):
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    assert read_header(path) == dicom.HeaderResult(str(path), Status.UNREADABLE, "empty file")


@pytest.mark.parametrize("keep", [0.5, 0.95, -10, -1])
def test_it_reports_truncated_files(tmp_path, keep):
    whole = write(deidentified(), tmp_path / "whole.dcm").read_bytes()
    cut = int(len(whole) * keep) if keep > 0 else len(whole) + keep
    path = tmp_path / "cut.dcm"
    path.write_bytes(whole[:cut])
    result = read_header(path)
    assert result.status == Status.UNREADABLE
    assert result.reason.startswith("truncated"), result.reason


def test_it_reports_a_file_cut_inside_the_header(tmp_path):
    ds = deidentified(pixels=False)
    whole = write(ds, tmp_path / "whole.dcm").read_bytes()
    assert read_header(tmp_path / "whole.dcm").status == Status.ACCEPTED
    for cut in (len(whole) - 3, len(whole) - 9):
        path = tmp_path / f"cut{cut}.dcm"
        path.write_bytes(whole[:cut])
        result = read_header(path)
        assert result.status == Status.UNREADABLE and result.reason.startswith("truncated")


def test_it_reports_a_folder_or_a_missing_file_without_raising(tmp_path):
    result = read_header(tmp_path)
    assert result.status == Status.UNREADABLE
    assert "IsADirectoryError" in result.reason
    assert read_header(tmp_path / "gone.dcm").status == Status.UNREADABLE


def test_the_option_lists_name_only_attributes_the_basic_profile_removes_or_empties():
    table = json.loads(dicom.TABLE_PATH.read_text())
    for tags in dicom.RETAINED_BY_OPTION.values():
        for tag in tags:
            assert table[dicom.tag_text(tag)][1] in ("X", "Z"), dicom.tag_text(tag)


def test_the_table_is_the_standard_copy():
    table = json.loads(dicom.TABLE_PATH.read_text())
    assert len(table) == 441
    assert table["(0010,1040)"][1] == "X"
    assert dicom.refusal_table().rule(0x00100020) is None  # PatientID carries the pseudonym
    assert dicom.refusal_table().rule(0x601E3000).name == "OverlayData"
    assert dicom.refusal_table().rule(0x50FE1234).name == "CurveData"
    assert dicom.refusal_table().rule(0x60013000) is None  # odd group: a private attribute


def test_it_reads_undefined_length_sequences_and_items(tmp_path):
    inner = Sequence([_item(PatientAddress="1 Main Street")])
    ds = deidentified(
        ReferencedImageSequence=Sequence([_item(ReferencedImageSequence=inner)]),
        ReferencedStudySequence=Sequence([_item(PatientBirthName="Smith^Jane")]),
    )
    ds["ReferencedImageSequence"].value[0]["ReferencedImageSequence"].is_undefined_length = True
    inner[0].is_undefined_length_sequence_item = True
    ds["ReferencedStudySequence"].is_undefined_length = True  # pydicom parses this one itself
    result = _read(tmp_path, ds)
    assert result.status == Status.REFUSED
    assert (
        "(0008,1140) ReferencedImageSequence[1] > (0008,1140) ReferencedImageSequence[1] > "
        "(0010,1040) PatientAddress still has a value"
    ) in result.reason
    assert "(0008,1110) ReferencedStudySequence[1] > (0010,1005) PatientBirthName" in (
        result.reason
    )


# Every element the reader sees, compared with pydicom over its sample files: in
# tests/access/node/test_indexer_reader.py, beside the reader.


def test_a_patient_id_inside_a_sequence_must_be_the_pseudonym(tmp_path):
    same = deidentified(
        patient_id="P-1", ReferencedStudySequence=Sequence([_item(PatientID="P-1")])
    )
    assert _read(tmp_path, same, "same.dcm").status == Status.ACCEPTED
    other = deidentified(
        patient_id="P-1", ReferencedStudySequence=Sequence([_item(PatientID="H-998877")])
    )
    result = _read(tmp_path, other, "other.dcm")
    assert result.status == Status.REFUSED
    assert result.reason == (
        "(0008,1110) ReferencedStudySequence[1] > (0010,0020) PatientID differs from the "
        "pseudonym in the top-level PatientID (PS3.15 basic profile: Z)"
    )


def test_the_clean_descriptors_list_is_the_option_column_of_the_standard_table():
    listed = json.loads(dicom.CLEAN_DESCRIPTORS_PATH.read_text())
    table = json.loads(dicom.TABLE_PATH.read_text())
    assert len(listed) == len(dicom.clean_descriptors()) == 95
    assert listed["(0008,1030)"] == "StudyDescription"
    assert listed["(0008,103E)"] == "SeriesDescription"
    assert {0x00081030, 0x0008103E, 0x00204000} <= dicom.clean_descriptors()  # + ImageComments
    for key, name in listed.items():
        assert table[key][0] == name, key  # every listed tag is a row of the basic-profile table
    assert "(0010,1040)" not in listed  # PatientAddress cannot be cleaned


def test_it_keeps_descriptions_only_when_clean_descriptors_is_declared(tmp_path):
    attributes = {
        "StudyDescription": "CT chest follow-up",
        "SeriesDescription": "Lung 1.25 mm",
        "ImageComments": "contrast phase",
    }
    refused = _read(tmp_path, deidentified(**attributes), "basic.dcm")
    assert refused.status == Status.REFUSED
    assert "(0008,1030) StudyDescription still has a value (PS3.15 basic profile: X)" in (
        refused.reason
    )
    assert "SeriesDescription" in refused.reason and "ImageComments" in refused.reason
    other_option = deidentified(options=("113100", "113108"), **attributes)
    assert _read(tmp_path, other_option, "other.dcm").status == Status.REFUSED
    cleaned = deidentified(options=("113100", "113105"), **attributes)
    result = _read(tmp_path, cleaned, "cleaned.dcm")
    assert result.status == Status.ACCEPTED, result.reason


def test_clean_descriptors_does_not_let_other_attributes_through(tmp_path):
    ds = deidentified(
        options=("113100", "113105"),
        StudyDescription="CT chest follow-up",
        PatientAddress="1 Main Street",
        ReferencedStudySequence=Sequence([_item(StudyComments="as agreed", PatientAddress="x")]),
    )
    result = _read(tmp_path, ds)
    assert result.status == Status.REFUSED
    assert result.reason == (
        "(0008,1110) ReferencedStudySequence[1] > (0010,1040) PatientAddress still has a value "
        "(PS3.15 basic profile: X); "
        "(0010,1040) PatientAddress still has a value (PS3.15 basic profile: X)"
    )


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@pytest.mark.parametrize("name", ["P-1", "P-1^", "P-1^^^^"])
def test_patient_name_may_repeat_the_pseudonym(tmp_path, syntax, name):
    ds = deidentified(
        patient_id="P-1",
        PatientName=name,
        ReferencedStudySequence=Sequence([_item(PatientName=name, PatientID="P-1")]),
    )
    result = read_header(write(ds, tmp_path / "same.dcm", syntax))
    assert result.status == Status.ACCEPTED, result.reason


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@pytest.mark.parametrize("name", ["Doe^Jane", "P-2", "P-1^Jane", "P", "Doe^P-1"])
def test_any_other_patient_name_is_still_refused(tmp_path, syntax, name):
    top = deidentified(patient_id="P-1", PatientName=name)
    result = read_header(write(top, tmp_path / "top.dcm", syntax))
    assert result.status == Status.REFUSED
    assert result.reason == "(0010,0010) PatientName still has a value (PS3.15 basic profile: Z)"
    nested = deidentified(
        patient_id="P-1", ReferencedStudySequence=Sequence([_item(PatientName=name)])
    )
    result = read_header(write(nested, tmp_path / "nested.dcm", syntax))
    assert result.status == Status.REFUSED
    assert result.reason == (
        "(0008,1110) ReferencedStudySequence[1] > (0010,0010) PatientName still has a value "
        "(PS3.15 basic profile: Z)"
    )


def test_patient_name_is_compared_with_the_pseudonym_in_memory_too():
    assert check_dataset(deidentified(patient_id="P-1", PatientName="P-1")).status == (
        Status.ACCEPTED
    )
    assert check_dataset(deidentified(patient_id="P-1", PatientName="Doe")).status == (
        Status.REFUSED
    )

"""The node's header reader (access.node.indexer.reader): it sees every element pydicom sees
with the same bytes, reaches the same verdicts whichever way a file is encoded, and leaves to
pydicom the files it does not take on."""

import warnings
from pathlib import Path

import pydicom.data
import pytest
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from access.node.deid import Status
from access.node.indexer import reader
from tests.catalogue.dicom_factory import deidentified, write

SAMPLES = Path(pydicom.data.__file__).parent / "test_files"  # those shipped with pydicom


def _ours(elements, where=""):
    """Every element of a header as (where, tag) → its bytes (None for a sequence)."""
    seen = {}
    for tag, _vr, value in elements:
        if isinstance(value, list):
            seen[(where, tag)] = None
            for number, item in enumerate(value, start=1):
                seen |= _ours(item, f"{where}{tag:08X}[{number}]>")
        else:
            seen[(where, tag)] = value
    return seen


def _theirs(ds, where=""):
    """The same, as pydicom reads it (raw bytes where pydicom keeps them)."""
    seen = {}
    for tag in list(ds.keys()):
        raw = ds.get_item(tag)
        if ds[tag].VR == "SQ":
            seen[(where, int(tag))] = None
            for number, item in enumerate(ds[tag].value, start=1):
                seen |= _theirs(item, f"{where}{int(tag):08X}[{number}]>")
        else:
            seen[(where, int(tag))] = raw.value if isinstance(raw, RawDataElement) else ...
    return seen


def _same(ours, theirs):
    if ours.keys() != theirs.keys():
        return False
    for key, value in theirs.items():
        if value is ... or ours[key] == b"\x01":  # converted by pydicom; encapsulated
            continue
        if (value or b"") != (ours[key] or b""):
            return False
    return True


def test_it_sees_every_element_pydicom_sees_in_its_sample_files():
    compared = direct = 0
    for path in sorted(SAMPLES.glob("*.dcm")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                theirs = _theirs(dcmread(path, stop_before_pixels=True))
            except Exception:  # noqa: S112 (a sample pydicom itself cannot read)
                continue
        data = path.read_bytes()
        try:
            header = reader.parse_file_bytes(data, len(data))
        except (ValueError, reader.NotHandled, reader.Truncated):
            continue  # left to pydicom, which reads it as above
        assert _same(_ours(header.elements), theirs), path.name
        direct += 1
        compared += 1
    assert direct > 50


def test_it_reaches_the_same_verdict_in_every_transfer_syntax(tmp_path):
    for syntax in (
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
        ExplicitVRBigEndian,
        DeflatedExplicitVRLittleEndian,
    ):
        good = write(deidentified(patient_id="P-9"), tmp_path / f"good-{syntax}.dcm", syntax)
        bad = write(
            deidentified(patient_id="P-9", OperatorsName="Riesmeier^Jörg"),
            tmp_path / f"bad-{syntax}.dcm",
            syntax,
        )
        assert reader.read_header(good, "strict").status == Status.ACCEPTED, syntax
        refused = reader.read_header(bad, "strict")
        assert refused.status == Status.REFUSED, syntax
        assert refused.reason == (
            "(0008,1070) OperatorsName holds a person's name (strict profile: names must be empty)"
        )


def test_a_header_larger_than_the_first_read_is_read_whole(tmp_path):
    long_text = "x" * (reader.FIRST_READ + 1000)
    path = write(deidentified(ImageComments=long_text), tmp_path / "long.dcm")
    result = reader.read_header(path)
    assert result.status == Status.REFUSED
    assert "(0020,4000) ImageComments still has a value" in result.reason


def test_non_ascii_text_is_read_in_the_files_character_set(tmp_path):
    ds = deidentified(patient_id="Pseudo-Å", PatientName="Pseudo-Å")
    path = write(ds, tmp_path / "latin.dcm")
    assert path.read_bytes().count("Å".encode("latin-1")) == 2
    result = reader.read_header(path, "strict")
    assert result.status == Status.ACCEPTED, result.reason
    assert result.patient_id == "Pseudo-Å"


@pytest.mark.parametrize("cut", [200, 400, -10])
def test_a_file_cut_short_is_unreadable_and_never_raises(tmp_path, cut):
    whole = write(deidentified(), tmp_path / "whole.dcm").read_bytes()
    result = reader.read_bytes(whole[:cut], "cut.dcm")
    assert result.status == Status.UNREADABLE
    assert result.reason.startswith("truncated"), result.reason


def test_a_stream_is_read_only_up_to_the_pixel_data(tmp_path):
    """As from an image server: a large image's pixel data is never asked for; a header
    longer than the first read is, once."""
    ds = deidentified(Rows=512, Columns=512)
    ds.PixelData = bytes(512 * 512 * 2)
    image = write(ds, tmp_path / "large.dcm").read_bytes()
    asked = []

    def rest(data):
        def read():
            asked.append(len(data))
            return data

        return read

    first, remainder = image[: reader.FIRST_READ], image[reader.FIRST_READ :]
    result = reader.read_stream(first, len(image), rest(remainder), "large.dcm", "strict")
    assert result.status == Status.ACCEPTED, result.reason
    assert asked == []  # the 512 KiB of pixel data stayed unread

    long_header = write(deidentified(ImageComments="x" * 70_000), tmp_path / "long.dcm")
    data = long_header.read_bytes()
    first, remainder = data[: reader.FIRST_READ], data[reader.FIRST_READ :]
    result = reader.read_stream(first, len(data), rest(remainder), "long.dcm", "basic")
    assert result.status == Status.REFUSED and "ImageComments" in result.reason
    assert asked == [len(remainder)]

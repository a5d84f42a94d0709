"""Small DICOM files for ingest tests: de-identified by default, identifying on request.

``deidentified()`` builds a CT image header the way a Basic Profile de-identifier leaves it
(PatientIdentityRemoved YES, the method sequence, a pseudonymous PatientID, no names, no dates)
and ``write()`` saves it as a proper Part 10 file with a preamble and file meta information.
"""

import itertools
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

_counter = itertools.count(1)
ROOT = "1.2.826.0.1.3680043.10.1234."  # a test root; only ever used in generated files


def uid() -> str:
    return generate_uid(prefix=ROOT)


def method_codes(*codes: str) -> Sequence:
    items = []
    for code in codes:
        item = Dataset()
        item.CodeValue = code
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = f"De-identification option {code}"
        items.append(item)
    return Sequence(items)


def deidentified(
    *,
    patient_id: str = "SUBJ-0001",
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    modality: str = "CT",
    body_part: str = "CHEST",
    options: tuple[str, ...] = ("113100",),
    pixels: bool = True,
    **attributes,
) -> Dataset:
    """A de-identified image header. ``attributes`` are set last (keyword=value)."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid or uid()
    ds.Modality = modality
    ds.Manufacturer = "Example Medical"
    ds.ManufacturerModelName = "Scanner 64"
    ds.PatientName = ""
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "Basic Application Level Confidentiality Profile"
    ds.DeidentificationMethodCodeSequence = method_codes(*options)
    ds.LongitudinalTemporalInformationModified = "REMOVED"
    ds.BodyPartExamined = body_part
    ds.SliceThickness = "1.25"
    ds.KVP = "120"
    ds.StudyInstanceUID = study_uid or uid()
    ds.SeriesInstanceUID = series_uid or uid()
    ds.StudyID = ""
    ds.SeriesNumber = 1
    ds.InstanceNumber = next(_counter)
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDate = ""
    ds.StudyTime = ""
    ds.ImagePositionPatient = [0.0, 0.0, float(ds.InstanceNumber)]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.FrameOfReferenceUID = uid()
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 8
    ds.Columns = 8
    ds.PixelSpacing = [0.7, 0.7]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    if pixels:
        ds.PixelData = bytes(8 * 8 * 2)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def write(ds: Dataset, path: Path, syntax: str = ExplicitVRLittleEndian) -> Path:
    """Save ``ds`` as a DICOM Part 10 file (preamble, DICM, file meta) at ``path``."""
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.get("SOPClassUID", CTImageStorage)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID", uid())
    ds.file_meta.TransferSyntaxUID = syntax
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_tree(
    root: Path,
    *,
    subjects: int = 2,
    studies_per_subject: int = 1,
    series_per_study: int = 2,
    instances_per_series: int = 3,
    modalities: tuple[str, ...] = ("CT", "MR"),
    **attributes,
) -> list[Path]:
    """A folder per subject/study/series of de-identified files; series alternate modalities."""
    paths = []
    for s in range(subjects):
        subject = f"SUBJ-{s + 1:04d}"
        for _ in range(studies_per_subject):
            study = uid()
            for n in range(series_per_study):
                series = uid()
                modality = modalities[n % len(modalities)]
                for i in range(instances_per_series):
                    ds = deidentified(
                        patient_id=subject,
                        study_uid=study,
                        series_uid=series,
                        modality=modality,
                        **attributes,
                    )
                    folder = root / subject / study[-12:] / series[-12:]
                    paths.append(write(ds, folder / f"{i + 1:04d}.dcm"))
    return paths

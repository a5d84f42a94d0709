"""Demo nodes and datasets for ``manage.py demo_data`` (development only), each with a study
and series index of made-up headers, so that feasibility counts have something to count."""

import random
import uuid
from datetime import date

from catalogue.models import Dataset, Node, Series, Study
from catalogue.services import dataset_create, dataset_refresh_counts, node_create

NODES = [
    {
        "name": "Oslo imaging node",
        "slug": "oslo",
        "organisation": "Oslo University Hospital",
        "country": "NO",
        "contact_email": "imaging-node@ous.example.org",
        "dicomweb_base_url": "https://imaging.ous.example.org/dicom-web",
        "audience": "urn:ecii:node:oslo",
    },
    {
        "name": "Valencia imaging node",
        "slug": "valencia",
        "organisation": "Hospital Universitari i Politècnic La Fe",
        "country": "ES",
        "contact_email": "imaging-node@lafe.example.org",
        "dicomweb_base_url": "https://imaging.lafe.example.org/dicom-web",
        "audience": "urn:ecii:node:valencia",
    },
]

DATASETS = [
    ("oslo", {
        "title": "Breast MRI screening cohort",
        "description": "Dynamic contrast-enhanced breast MRI from a regional screening "
                       "programme, with radiology reports coded to BI-RADS.",
        "keywords": ["screening", "DCE-MRI"], "conditions": ["breast cancer"],
        "modalities": ["MR"], "body_parts": ["BREAST"], "access_rights": "NON_PUBLIC",
        "access_conditions": ["REMOTE_PROCESSING"], "duo_codes": ["DUO:0000006", "DUO:0000019"],
        "min_age": 40, "max_age": 74, "sexes": ["female"], "number_of_subjects": 1240,
        "number_of_studies": 2315,
    }),
    ("oslo", {
        "title": "Prostate mpMRI with biopsy outcome",
        "description": "Multiparametric prostate MRI with PI-RADS scores and biopsy results.",
        "keywords": ["PI-RADS"], "conditions": ["prostate cancer"], "modalities": ["MR"],
        "body_parts": ["PROSTATE"], "access_rights": "RESTRICTED",
        "access_conditions": ["IN_SITU_PROCESSING"], "duo_codes": ["DUO:0000042"],
        "min_age": 45, "max_age": 85, "sexes": ["male"], "number_of_subjects": 830,
        "number_of_studies": 912,
    }),
    ("valencia", {
        "title": "Low-dose chest CT with lung nodules",
        "description": "Low-dose chest CT from a lung cancer screening trial, with nodule "
                       "segmentations.",
        "keywords": ["nodules", "segmentation"], "conditions": ["lung cancer"],
        "modalities": ["CT", "SEG"], "body_parts": ["CHEST"], "access_rights": "NON_PUBLIC",
        "access_conditions": ["DOWNLOAD", "REMOTE_PROCESSING"],
        "duo_codes": ["DUO:0000006", "DUO:0000046"], "min_age": 50, "max_age": 80,
        "sexes": ["female", "male"], "number_of_subjects": 2104, "number_of_studies": 4890,
    }),
    ("valencia", {
        "title": "Rectal cancer MRI before and after neoadjuvant therapy",
        "description": "Paired staging and restaging pelvic MRI of rectal cancer patients.",
        "keywords": ["neoadjuvant", "response"], "conditions": ["colorectal cancer"],
        "modalities": ["MR"], "body_parts": ["PELVIS"], "access_rights": "NON_PUBLIC",
        "access_conditions": ["REMOTE_PROCESSING"],
        "duo_codes": ["DUO:0000007", "DUO:0000021"], "min_age": 30, "max_age": 90,
        "sexes": ["female", "male"], "number_of_subjects": 316, "number_of_studies": 640,
    }),
]  # fmt: skip

# Each dataset's pseudonyms: prefix and number (the demo citizen is OSLO-BR-0042).
PSEUDONYMS = ["OSLO-BR", "OSLO-PR", "LAFE-LU", "LAFE-RC"]
# Per modality: (manufacturer, model, field strength) choices, and slice thicknesses.
EQUIPMENT = {
    "MR": [("SIEMENS", "MAGNETOM Skyra", 3.0), ("GE MEDICAL SYSTEMS", "SIGNA Premier", 3.0),
           ("Philips", "Ingenia", 1.5)],
    "CT": [("SIEMENS", "SOMATOM Force", None), ("CANON_MEC", "Aquilion ONE", None)],
    "SEG": [("", "", None)],
}  # fmt: skip
THICKNESS = {"MR": [1.0, 1.5, 3.0, 4.0], "CT": [0.625, 1.0, 1.25, 2.5], "SEG": [None]}


def _uid(rng: random.Random) -> str:
    return f"2.25.{uuid.UUID(int=rng.getrandbits(128)).int}"


def _demo_index(dataset: Dataset, prefix: str, rng: random.Random) -> None:
    """Subjects with one to three studies of two to five series each, within the dataset's
    ages, sexes, modalities and body part."""
    sexes = [{"female": "F", "male": "M"}[s] for s in dataset.sexes] or [""]
    studies, series = [], []
    for number in range(1, rng.randint(60, 140) + 1):
        sex, age = (
            rng.choice(sexes),
            rng.randint(dataset.min_age or 18, (dataset.max_age or 90) - 3),
        )
        for visit in range(rng.randint(1, 3)):
            day = date(2016 + 2 * visit + rng.randint(0, 1), rng.randint(1, 12), rng.randint(1, 28))
            study = Study(
                dataset=dataset, study_instance_uid=_uid(rng), subject=f"{prefix}-{number:04d}",
                study_date=day, study_year=day.year, age=age + 2 * visit, sex=sex,
            )  # fmt: skip
            studies.append(study)
            for _ in range(rng.randint(2, 5)):
                modality = rng.choice(dataset.modalities)
                maker, model, tesla = rng.choice(EQUIPMENT[modality])
                series.append(
                    Series(
                        study=study, series_instance_uid=_uid(rng), modality=modality,
                        body_part=dataset.body_parts[0], manufacturer=maker, model=model,
                        field_strength=tesla, slice_thickness=rng.choice(THICKNESS[modality]),
                        instance_count=rng.randint(20, 400),
                    )
                )  # fmt: skip
    Study.objects.bulk_create(studies)
    Series.objects.bulk_create(series)
    dataset_refresh_counts(dataset=dataset)


def load_demo_catalogue(*, operator) -> int:
    """Create the demo nodes (operated by ``operator``) and datasets once. Returns how many
    datasets were created (0 when they exist already)."""
    if Node.objects.filter(slug__in=[n["slug"] for n in NODES]).exists():
        return 0
    nodes = {n["slug"]: node_create(actor=None, operators=[operator], **n) for n in NODES}
    rng = random.Random(2026)
    for (slug, fields), prefix in zip(DATASETS, PSEUDONYMS, strict=True):
        dataset = dataset_create(
            node=nodes[slug],
            actor=None,
            status="published",
            health_categories=["EHRS"],
            contact_name="Imaging data desk",
            contact_email=nodes[slug].contact_email,
            licence="https://creativecommons.org/licenses/by-nc/4.0/",
            **fields,
        )
        _demo_index(dataset, prefix, rng)
    return len(DATASETS)

"""Demo nodes and datasets for ``manage.py demo_data`` (development only)."""

from catalogue.models import Node
from catalogue.services import dataset_create, node_create

NODES = [
    {
        "name": "Oslo imaging node",
        "slug": "oslo",
        "organisation": "Oslo University Hospital",
        "country": "NO",
        "contact_email": "imaging-node@ous.example.org",
        "dicomweb_base_url": "http://127.0.0.1:8042/dicom-web",
        "audience": "urn:ecii:node:oslo",
    },
    {
        "name": "Valencia imaging node",
        "slug": "valencia",
        "organisation": "Hospital Universitari i Politècnic La Fe",
        "country": "ES",
        "contact_email": "imaging-node@lafe.example.org",
        "dicomweb_base_url": "http://127.0.0.1:8043/dicom-web",
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


def load_demo_catalogue(*, operator) -> int:
    """Create the demo nodes (operated by ``operator``) and datasets once. Returns how many
    datasets were created (0 when they exist already)."""
    if Node.objects.filter(slug__in=[n["slug"] for n in NODES]).exists():
        return 0
    nodes = {n["slug"]: node_create(actor=None, operators=[operator], **n) for n in NODES}
    for slug, fields in DATASETS:
        dataset_create(
            node=nodes[slug],
            actor=None,
            status="published",
            health_categories=["EHRS"],
            contact_name="Imaging data desk",
            contact_email=nodes[slug].contact_email,
            licence="https://creativecommons.org/licenses/by-nc/4.0/",
            **fields,
        )
    return len(DATASETS)

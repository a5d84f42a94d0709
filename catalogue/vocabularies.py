"""Controlled values used to describe datasets (codes as stored; labels for people)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

EHDS_ELI = "http://data.europa.eu/eli/reg/2025/327/oj"


class AccessRights(models.TextChoices):
    """EU access-right vocabulary; selects the HealthDCAT-AP SHACL profile."""

    PUBLIC = "PUBLIC", _("Public")
    RESTRICTED = "RESTRICTED", _("Restricted")
    NON_PUBLIC = "NON_PUBLIC", _("Non-public")


class AccessCondition(models.TextChoices):
    """EUCAIM access conditions (how the data may be reached)."""

    DOWNLOAD = "DOWNLOAD", _("Download")
    IN_SITU_PROCESSING = "IN_SITU_PROCESSING", _("In-situ processing")
    REMOTE_PROCESSING = "REMOTE_PROCESSING", _("Remote processing without direct data access")


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")


# EHDS Art 51(1) categories, as codes of the HealthDCAT-AP health-categories vocabulary
# (https://hdeu-dcat.data.health.europa.eu/resource/authority/healthcategories/<code>).
# The letter is the point of Art 51(1) the code stands for.
class HealthCategory(models.TextChoices):
    EHRS = "EHRS", _("Electronic health records")  # (a)
    PHDR = "PHDR", _("Population-based health data registries")  # (k)
    MRMR = "MRMR", _("Medical and mortality registries")  # (l)
    EHCT = "EHCT", _("Clinical trials, studies and investigations")  # (m)
    EMRD = "EMRD", _("Other health data from medical devices")  # (n)
    EINS = "EINS", _("Biobanks and associated databases")  # (q)


# DICOM Modality (0008,0060) values expected in cancer imaging collections.
class Modality(models.TextChoices):
    CT = "CT", _("Computed tomography")
    MR = "MR", _("Magnetic resonance")
    PT = "PT", _("Positron emission tomography")
    MG = "MG", _("Mammography")
    US = "US", _("Ultrasound")
    CR = "CR", _("Computed radiography")
    DX = "DX", _("Digital radiography")
    NM = "NM", _("Nuclear medicine")
    SM = "SM", _("Slide microscopy")
    SEG = "SEG", _("Segmentation")
    RTSTRUCT = "RTSTRUCT", _("Radiotherapy structure set")
    OT = "OT", _("Other")


COUNTRIES = [
    ("AT", _("Austria")), ("BE", _("Belgium")), ("BG", _("Bulgaria")), ("HR", _("Croatia")),
    ("CY", _("Cyprus")), ("CZ", _("Czechia")), ("DK", _("Denmark")), ("EE", _("Estonia")),
    ("FI", _("Finland")), ("FR", _("France")), ("DE", _("Germany")), ("GR", _("Greece")),
    ("HU", _("Hungary")), ("IE", _("Ireland")), ("IT", _("Italy")), ("LV", _("Latvia")),
    ("LT", _("Lithuania")), ("LU", _("Luxembourg")), ("MT", _("Malta")), ("NL", _("Netherlands")),
    ("PL", _("Poland")), ("PT", _("Portugal")), ("RO", _("Romania")), ("SK", _("Slovakia")),
    ("SI", _("Slovenia")), ("ES", _("Spain")), ("SE", _("Sweden")), ("IS", _("Iceland")),
    ("LI", _("Liechtenstein")), ("NO", _("Norway")), ("CH", _("Switzerland")),
    ("GB", _("United Kingdom")),
]  # fmt: skip
COUNTRY_NAMES = dict(COUNTRIES)


class InteroperabilityLevel(models.TextChoices):
    """EUCAIM data-federation and interoperability tiers (``eucaim:interoperabilityLevel``)."""

    TIER_1 = "TIER_1", _("Tier 1: described in the catalogue")
    TIER_2 = "TIER_2", _("Tier 2: searchable through the federated search")
    TIER_3 = "TIER_3", _("Tier 3: federated processing on the common data model")


class CollectionMethod(models.TextChoices):
    """How the dataset's studies were gathered (``eucaim:collectionMethod``)."""

    ROUTINE_CARE = "ROUTINE_CARE", _("Retrospective collection from routine care")
    PROSPECTIVE_STUDY = "PROSPECTIVE_STUDY", _("Prospective collection for a research study")
    CLINICAL_TRIAL = "CLINICAL_TRIAL", _("Collection within a clinical trial")
    REGISTRY = "REGISTRY", _("Population registry or screening programme")

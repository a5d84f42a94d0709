"""Federated imaging nodes, the datasets they hold, and the study/series index built by ingest."""

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from catalogue.validators import validate_public_email_field, validate_public_url_field
from catalogue.vocabularies import (
    COUNTRIES,
    EHDS_ELI,
    AccessRights,
    CollectionMethod,
    InteroperabilityLevel,
)
from portal.workflow import TransitionsMixin


class TextSearchVector(models.Field):
    """A column of PostgreSQL's ``tsvector`` type (plain text on SQLite, where it stays empty).
    Read through SQL only (catalogue.facets and catalogue.selectors)."""

    description = "A text search vector"

    def db_type(self, connection):
        return "tsvector" if connection.vendor == "postgresql" else "text"


class Node(models.Model):
    """A data holder's imaging site. Its gatekeeper accepts tokens issued for ``audience``."""

    class GateProfile(models.TextChoices):
        # The de-identification gate ingest applies to this node's files (access.node.deid,
        # through catalogue.dicom). New nodes get strict; nodes registered before the strict
        # profile existed were migrated to basic, so nothing already running changed silently.
        BASIC = "basic", _("Basic: PS3.15 basic profile")
        STRICT = (
            "strict",
            _("Strict: also refuses names, institution, device, dates, burned-in text"),
        )

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(unique=True)
    organisation = models.CharField(_("organisation"), max_length=200)
    country = models.CharField(_("country"), max_length=2, choices=COUNTRIES)
    contact_email = models.EmailField(_("contact email"), validators=[validate_public_email_field])
    dicomweb_base_url = models.URLField(
        _("DICOMweb base URL"), max_length=500, validators=[validate_public_url_field]
    )
    audience = models.CharField(
        _("token audience"),
        max_length=200,
        unique=True,
        help_text=_("The identifier access tokens for this node carry in their aud claim."),
    )
    operators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="operated_nodes", blank=True
    )
    gate_profile = models.CharField(
        _("de-identification gate"),
        max_length=8,
        choices=GateProfile.choices,
        default=GateProfile.STRICT,
        help_text=_(
            "Strict also refuses person names, institution and device identity, dates and text "
            "burned into the pixels, unless the files declare the matching retain option."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def default_collection_methods() -> list[str]:
    """Most imaging collections are gathered retrospectively from routine care."""
    return [CollectionMethod.ROUTINE_CARE.value]


class Dataset(TransitionsMixin):
    """An imaging collection at one node, described with HealthDCAT-AP properties.

    List-valued properties are JSON lists for display and export; the searchable ones are also
    copied into :class:`DatasetTerm` rows by the services, which is what facets count.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        RETIRED = "retired", _("Retired")

    ALLOWED_TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        Status.DRAFT: {Status.PUBLISHED, Status.RETIRED},
        Status.PUBLISHED: {Status.RETIRED, Status.DRAFT},
        Status.RETIRED: {Status.PUBLISHED},
    }

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="datasets")
    identifier = models.CharField(
        _("identifier"), max_length=100, unique=True, default=uuid.uuid4, editable=False
    )
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"))
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    publisher_name = models.CharField(_("publisher"), max_length=200)
    contact_name = models.CharField(_("contact point name"), max_length=200)
    contact_email = models.EmailField(
        _("contact point email"), validators=[validate_public_email_field]
    )
    health_categories = models.JSONField(_("health categories"), default=list)
    access_rights = models.CharField(
        _("access rights"),
        max_length=16,
        choices=AccessRights.choices,
        default=AccessRights.NON_PUBLIC,
    )
    applicable_legislation = models.JSONField(
        _("applicable legislation"), default=list, help_text=_("ELI URIs")
    )
    conditions = models.JSONField(_("cancer types / conditions"), default=list)
    modalities = models.JSONField(_("image modalities"), default=list, blank=True)
    body_parts = models.JSONField(_("body parts"), default=list, blank=True)
    number_of_subjects = models.PositiveIntegerField(_("number of subjects"), default=0)
    number_of_studies = models.PositiveIntegerField(_("number of studies"), default=0)
    number_of_series = models.PositiveIntegerField(_("number of series"), default=0)
    number_of_instances = models.PositiveBigIntegerField(_("number of instances"), default=0)
    min_age = models.PositiveSmallIntegerField(_("minimum typical age"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("maximum typical age"), null=True, blank=True)
    sexes = models.JSONField(_("sex"), default=list, blank=True)
    temporal_start = models.DateField(_("temporal coverage from"), null=True, blank=True)
    temporal_end = models.DateField(_("temporal coverage to"), null=True, blank=True)
    access_conditions = models.JSONField(_("access conditions"), default=list)
    # EUCAIM DCAT-AP v2 mandatory properties (docs/operations.md, "The DCAT export").
    interoperability_level = models.CharField(
        _("EUCAIM interoperability tier"),
        max_length=16,
        choices=InteroperabilityLevel.choices,
        default=InteroperabilityLevel.TIER_1,
    )
    collection_methods = models.JSONField(
        _("collection methods"), default=default_collection_methods
    )
    # Distinct DICOM Manufacturer (0008,0070) values of the indexed series, kept by ingest.
    manufacturers = models.JSONField(_("equipment manufacturers"), default=list, blank=True)
    duo_codes = models.JSONField(_("data-use conditions (DUO)"), default=list, blank=True)
    licence = models.URLField(
        _("licence"), max_length=300, blank=True, validators=[validate_public_url_field]
    )
    version = models.CharField(_("version"), max_length=50, default="1.0")
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    # Title, description, keywords, conditions and node, kept by the services for free-text
    # search.
    search_text = models.TextField(blank=True, editable=False)
    # ``search_text`` as PostgreSQL's 'simple' text search stores it, kept by a trigger and
    # GIN-indexed on PostgreSQL (migration 0008), so that matching and ranking read it rather
    # than tokenise the text of every row again; empty on SQLite, which reads ``search_text``.
    search_vector = TextSearchVector(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # When an operator last confirmed the description still holds (the yearly re-check of the
    # quality label, catalogue.quality), and when they were last reminded to.
    reviewed_at = models.DateTimeField(_("description reviewed"), null=True, blank=True)
    review_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["title"]
        indexes = [
            models.Index(fields=["status", "title"], name="dataset_status_title_idx"),
            # The title order (with the id breaking ties) that search pages follow: the search
            # index finds where a new or renamed dataset goes in it (catalogue.facets).
            models.Index(fields=["title", "id"], name="dataset_title_id_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @staticmethod
    def default_legislation() -> list[str]:
        return [EHDS_ELI]


class DatasetTerm(models.Model):
    """One searchable facet value of a dataset (e.g. modality=CT). Kept in step by services."""

    class Facet(models.TextChoices):
        CONDITION = "condition", _("Cancer type")
        MODALITY = "modality", _("Modality")
        BODY_PART = "body_part", _("Body part")
        ACCESS = "access", _("Access conditions")
        DUO = "duo", _("Data-use conditions")
        KEYWORD = "keyword", _("Keyword")

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="terms")
    facet = models.CharField(max_length=16, choices=Facet.choices)
    value = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "facet", "value"], name="unique_term"),
        ]
        indexes = [models.Index(fields=["facet", "value", "dataset"], name="term_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.facet}={self.value}"


class Study(models.Model):
    """A de-identified imaging study indexed at ingest. ``subject`` is the pseudonym
    (the PatientID of the de-identified data), never a hospital identifier."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="studies")
    study_instance_uid = models.CharField(max_length=64)
    subject = models.CharField(max_length=64, db_index=True)
    study_date = models.DateField(null=True, blank=True)
    study_year = models.PositiveSmallIntegerField(null=True, blank=True)
    # PatientAge (0010,1010) in whole years and PatientSex (0010,0040), when the files keep them.
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    sex = models.CharField(max_length=1, blank=True, default="", db_default="")
    # Kept by catalogue.feasibility_index after each ingest, so that counts by study date, age
    # and sex need not read the series.
    series_count = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        verbose_name_plural = "studies"
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "study_instance_uid"], name="unique_study_per_dataset"
            ),
        ]
        indexes = [
            models.Index(fields=["study_instance_uid"], name="study_uid_idx"),
            # Feasibility counts by study criteria: read in dataset and subject order from the
            # index alone on PostgreSQL (the included columns are ignored elsewhere).
            models.Index(
                fields=["dataset", "subject"],
                include=["study_date", "age", "sex", "series_count"],
                name="study_feasibility_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.study_instance_uid


class Series(models.Model):
    """A series of a study with its modality, body part and instance count."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(max_length=64)
    modality = models.CharField(max_length=16, blank=True)
    body_part = models.CharField(max_length=64, blank=True)
    manufacturer = models.CharField(max_length=64, blank=True)
    # ManufacturerModelName (0008,1090), MagneticFieldStrength (0018,0087) in tesla and
    # SliceThickness (0018,0050) in millimetres.
    model = models.CharField(max_length=64, blank=True, default="", db_default="")
    field_strength = models.FloatField(null=True, blank=True)
    slice_thickness = models.FloatField(null=True, blank=True)
    instance_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "series"
        constraints = [
            models.UniqueConstraint(
                fields=["study", "series_instance_uid"], name="unique_series_per_study"
            ),
        ]
        indexes = [models.Index(fields=["series_instance_uid"], name="series_uid_idx")]

    def __str__(self) -> str:
        return self.series_instance_uid


class Instance(models.Model):
    """An indexed instance (by SOP Instance UID), kept so that re-ingesting adds nothing."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["series", "sop_instance_uid"], name="unique_instance_per_series"
            ),
        ]
        indexes = [models.Index(fields=["sop_instance_uid"], name="instance_uid_idx")]

    def __str__(self) -> str:
        return self.sop_instance_uid


ENTRY_COLUMNS = ["study_date", "age", "sex", "modality", "body_part", "manufacturer", "model",
                 "field_strength", "slice_thickness", "series_count"]  # fmt: skip


class FeasibilityEntry(models.Model):
    """The series of one study that share a description (modality, body part, equipment,
    field strength, slice thickness), with how many they are and the study's dataset, subject,
    date, age and sex copied beside them. Rebuilt per dataset by catalogue.feasibility_index
    after ingest; cohort feasibility counts are one aggregate over this table."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    # Indexed first in the covering indexes below.
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+", db_index=False)
    subject = models.CharField(max_length=64)
    study_date = models.DateField(null=True)
    age = models.PositiveSmallIntegerField(null=True)
    sex = models.CharField(max_length=1, blank=True)
    modality = models.CharField(max_length=16, blank=True)
    body_part = models.CharField(max_length=64, blank=True)
    # Upper case, so that "Philips" and "PHILIPS" count as one.
    manufacturer = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=64, blank=True)
    field_strength = models.FloatField(null=True)
    slice_thickness = models.FloatField(null=True)
    series_count = models.PositiveIntegerField()

    class Meta:
        verbose_name_plural = "feasibility entries"
        indexes = [
            # Read from the index alone in dataset, subject and study order (PostgreSQL).
            models.Index(
                fields=["dataset", "subject", "study"],
                include=ENTRY_COLUMNS,
                name="feasibility_dataset_idx",
            ),
            models.Index(
                fields=["modality", "dataset", "subject", "study"],
                include=[c for c in ENTRY_COLUMNS if c != "modality"],
                name="feasibility_modality_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.series_count} {self.modality} series of study {self.study_id}"


class FeasibilityTotals(models.Model):
    """A dataset's subjects, studies and series in the index (``modality`` ALL), and those
    with a series of each modality, for counts without study criteria and at most one
    modality as series criterion. Kept with FeasibilityEntry."""

    ALL = "*"  # every series; no DICOM modality (code string) can be "*"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    modality = models.CharField(max_length=16)
    subjects = models.PositiveIntegerField()
    studies = models.PositiveIntegerField()
    series = models.PositiveIntegerField()

    class Meta:
        verbose_name_plural = "feasibility totals"
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "modality"],
                name="unique_feasibility_totals",
            ),
        ]
        indexes = [
            models.Index(
                fields=["modality", "dataset"],
                include=["subjects", "studies", "series"],
                name="feasibility_totals_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"index totals of dataset {self.dataset_id} ({self.modality})"


class FeasibilityGroup(models.Model):
    """For one dataset and one series attribute (modality, body part, manufacturer or model):
    how many subjects and how many studies have exactly the set of values ``values`` among
    their series, and how many series have each value. Any set of values of that attribute is
    then counted exactly by summing the rows whose ``values`` share one with it: a subject or
    study is in exactly one row. Kept with FeasibilityEntry."""

    SEP = "\x1f"  # joins and ends ``values``; a criterion cannot hold a control character

    class Attribute(models.TextChoices):
        MODALITY = "modality"
        BODY_PART = "body_part"
        MANUFACTURER = "manufacturer"
        MODEL = "model"

    class Level(models.TextChoices):
        SUBJECT = "subject"
        STUDY = "study"
        SERIES = "series"  # ``values`` holds one value

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+", db_index=False)
    attribute = models.CharField(max_length=16, choices=Attribute)
    level = models.CharField(max_length=8, choices=Level)
    values = models.TextField()  # SEP + the sorted values joined by SEP + SEP
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["attribute", "dataset"],
                include=["level", "values", "count"],
                name="feasibility_group_idx",
            ),
        ]

    def __str__(self) -> str:
        shown = ", ".join(self.values.strip(self.SEP).split(self.SEP))
        return f"{self.count} {self.level} rows of dataset {self.dataset_id} with {shown}"


class BasketItem(models.Model):
    """A dataset a researcher has put in their basket, where an access application starts."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="basket_items"
    )
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "dataset"], name="unique_basket_item"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id} in basket of {self.user_id}"


class CatalogueVersion(models.Model):
    """One row: the catalogue's latest change as the search index knows it (``seq``, counting
    changes, and ``version``, a random stamp of that change). Services lock it to append to
    :class:`CatalogueChange`, so changes commit in the order of their numbers."""

    seq = models.PositiveBigIntegerField(default=0)
    version = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"catalogue change {self.seq} ({self.version})"


class CatalogueChange(models.Model):
    """A dataset whose record, terms or status changed, in the change numbered ``seq``; no
    dataset means "anything may have changed". Each worker's search index reloads the datasets
    changed since the change it is at (catalogue.facets). The stamp is random rather than
    derived from ``seq``, so that a rolled-back change can never pass for a later one that
    reused its number."""

    seq = models.PositiveBigIntegerField(db_index=True)
    stamp = models.CharField(max_length=32)
    dataset_id = models.BigIntegerField(null=True)

    def __str__(self) -> str:
        return f"change {self.seq}: dataset {self.dataset_id or 'all'}"

"""The data quality and utility label of EHDS Art 78, computed from the study/series index.

Every rule is one row of :data:`RULES`: what it measures (from the index, the node and the
dataset's review date), which element of Art 78(3) it speaks to, and the least value that
reaches each level. A dataset's label is the lowest level any rule reaches (a chain is as strong
as its weakest link), so the label names the rules that hold it back and what would lift it.
``docs/catalogue.md`` ("The quality label") shows the same table for people.

The label is shown on the dataset page, exported in the DCAT as a ``dqv:QualityCertificate``
(``dqv:hasQualityAnnotation``), and counted by level in the access body's figures (Art 59(1)(i)).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rdflib import RDF, RDFS, Graph, Literal, Namespace, URIRef

from catalogue.models import Dataset, Node, Study

DQV = Namespace("http://www.w3.org/ns/dqv#")
OA = Namespace("http://www.w3.org/ns/oa#")

# The levels, weakest first. "none": no images are indexed, so nothing can be measured.
NONE, BRONZE, SILVER, GOLD, PLATINUM = "none", "bronze", "silver", "gold", "platinum"
LEVELS = [NONE, BRONZE, SILVER, GOLD, PLATINUM]
LEVEL_LABELS: dict[str, str | Promise] = {
    NONE: _("Not rated"),
    BRONZE: _("Bronze"),
    SILVER: _("Silver"),
    GOLD: _("Gold"),
    PLATINUM: _("Platinum"),
}
# A description is due for its yearly re-check this long after it was last reviewed.
REVIEW_INTERVAL = timedelta(days=365)


@dataclass(frozen=True)
class Facts:
    """What the rules measure, for one dataset."""

    series: int = 0
    with_modality: int = 0
    with_body_part: int = 0
    with_manufacturer: int = 0
    # Series of cross-sectional modalities, and those whose acquisition parameters are recorded.
    cross_sectional: int = 0
    with_acquisition: int = 0
    studies: int = 0
    dated_studies: int = 0
    subjects: int = 0
    first_study: date | None = None
    last_study: date | None = None
    gate_profile: str = ""
    reviewed: datetime | None = None  # the last review, else the first publication


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _acquisition_share(facts: Facts, _today: date) -> float | None:
    """Of the series the parameters apply to, the share that records them; 1 when none does
    (projection images, such as mammograms, have no slice thickness to record)."""
    if not facts.series:
        return None
    return _share(facts.with_acquisition, facts.cross_sectional) if facts.cross_sectional else 1.0


def _review_age_days(facts: Facts, today: date) -> float | None:
    if facts.reviewed is None:
        return None
    return float((today - timezone.localdate(facts.reviewed)).days)


@dataclass(frozen=True)
class Rule:
    """One row of the table. ``thresholds`` are the least values (the most, for ``lower_is_better``
    rules) that reach silver, gold and platinum; a value that reaches none of them, or a rule
    that cannot be measured, is bronze (any dataset with indexed images is)."""

    key: str
    label: str | Promise
    element: str | Promise  # the Art 78(3) element it speaks to
    measure: Callable[[Facts, date], float | None]
    thresholds: tuple[float, float, float]
    unit: str  # "share", "count", "profile" or "days"
    lower_is_better: bool = False

    def level(self, value: float | None) -> str:
        if value is None:
            return BRONZE
        reached = BRONZE
        for level, threshold in zip(LEVELS[2:], self.thresholds, strict=True):
            ok = value <= threshold if self.lower_is_better else value >= threshold
            if ok:
                reached = level
        return reached

    def threshold_for(self, level: str) -> float:
        return self.thresholds[LEVELS.index(level) - 2]


COMPLETENESS = (0.8, 0.95, 1.0)
TECHNICAL = _("Technical quality: completeness (Art 78(3)(b))")
# The gate profiles, scored: the strict gate refuses more that could identify a person.
PROFILE_SCORE: dict[str, float] = {
    Node.GateProfile.BASIC.value: 2.0,
    Node.GateProfile.STRICT.value: 4.0,
}

RULES: list[Rule] = [
    Rule(
        "modality",
        _("Series with their modality recorded"),
        TECHNICAL,
        lambda f, _t: _share(f.with_modality, f.series),
        COMPLETENESS,
        "share",
    ),
    Rule(
        "body_part",
        _("Series with the body part examined recorded"),
        TECHNICAL,
        lambda f, _t: _share(f.with_body_part, f.series),
        COMPLETENESS,
        "share",
    ),
    Rule(
        "manufacturer",
        _("Series with the equipment manufacturer recorded"),
        TECHNICAL,
        lambda f, _t: _share(f.with_manufacturer, f.series),
        COMPLETENESS,
        "share",
    ),
    Rule(
        "acquisition",
        _(
            "Cross-sectional series with their acquisition parameters recorded (slice thickness; "
            "for MR, the field strength)"
        ),
        TECHNICAL,
        _acquisition_share,
        COMPLETENESS,
        "share",
    ),
    Rule(
        "study_date",
        _("Studies with their date recorded (coverage in time)"),
        _("Coverage: the period (Art 78(3)(d))"),
        lambda f, _t: _share(f.dated_studies, f.studies),
        COMPLETENESS,
        "share",
    ),
    Rule(
        "subjects",
        _("People in the indexed images"),
        _("Coverage: the population (Art 78(3)(d))"),
        lambda f, _t: float(f.subjects),
        (50, 200, 1000),
        "count",
    ),
    Rule(
        "deidentification",
        _("De-identification gate the node applies at ingest"),
        _("Data documentation: the source and its processing (Art 78(3)(a))"),
        lambda f, _t: PROFILE_SCORE.get(f.gate_profile),
        (2, 3, 4),
        "profile",
    ),
    Rule(
        "reviewed",
        _("Days since the description was last reviewed"),
        _("Quality management: review (Art 78(3)(c))"),
        _review_age_days,
        (2 * 365, 540, 365),
        "days",
        lower_is_better=True,
    ),
]


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    value: float | None
    level: str

    @property
    def level_label(self) -> str:
        return str(LEVEL_LABELS[self.level])

    @property
    def shown(self) -> str:
        """The value as a person reads it."""
        if self.value is None:
            return str(_("not known") if self.rule.unit != "share" else _("nothing indexed"))
        if self.rule.unit == "share":
            return f"{self.value:.0%}"
        if self.rule.unit == "profile":
            return str(_("strict") if self.value >= 4 else _("basic"))
        return f"{self.value:.0f}"

    @property
    def next_step(self) -> str:
        """What would lift this rule one level (empty at platinum)."""
        if self.level == PLATINUM:
            return ""
        goal = LEVELS[LEVELS.index(self.level) + 1]
        if self.rule.unit == "profile":
            return str(_("%(level)s needs the strict gate.") % {"level": LEVEL_LABELS[goal]})
        if self.rule.unit == "days" and self.value is None:
            return str(_("Review the description."))
        threshold = self.rule.threshold_for(goal)
        shown = f"{threshold:.0%}" if self.rule.unit == "share" else f"{threshold:.0f}"
        if self.rule.lower_is_better:
            need = _("%(level)s needs at most %(value)s.")
        else:
            need = _("%(level)s needs at least %(value)s.")
        return str(need % {"level": LEVEL_LABELS[goal], "value": shown})


@dataclass(frozen=True)
class QualityLabel:
    level: str
    results: list[RuleResult] = field(default_factory=list)
    first_study: date | None = None
    last_study: date | None = None

    @property
    def level_label(self) -> str:
        return str(LEVEL_LABELS[self.level])

    @property
    def held_back_by(self) -> list[RuleResult]:
        """The rules at the label's level, when a better level exists."""
        if self.level in (NONE, PLATINUM):
            return []
        return [r for r in self.results if r.level == self.level]

    @property
    def summary(self) -> str:
        if self.level == NONE:
            return str(_("Not rated: no images of this dataset are indexed yet."))
        held = "; ".join(f"{r.rule.label} ({r.shown})" for r in self.held_back_by)
        if not held:
            return str(
                _("%(level)s: every rule reaches the highest level.") % {"level": self.level_label}
            )
        return str(_("%(level)s, held back by: %(rules)s.") % {
            "level": self.level_label, "rules": held
        })  # fmt: skip


def label_from(facts: Facts, *, today: date | None = None) -> QualityLabel:
    """The label of one dataset's ``facts`` (the lowest level any rule reaches)."""
    today = today or timezone.localdate()
    results = []
    for rule in RULES:
        value = rule.measure(facts, today)
        results.append(RuleResult(rule, value, rule.level(value)))
    level = NONE if not facts.series else min((r.level for r in results), key=LEVELS.index)
    return QualityLabel(level, results, facts.first_study, facts.last_study)


# Cross-sectional modalities: their images are slices, so slice thickness applies (PS3.3
# C.7.6.2); an MR series also records the magnetic field strength (C.8.3.1).
CROSS_SECTIONAL_MODALITIES = ("CT", "MR", "PT", "NM")
CROSS_SECTIONAL = Q(series__modality__in=CROSS_SECTIONAL_MODALITIES)
ACQUISITION_RECORDED = Q(series__slice_thickness__isnull=False) & (
    ~Q(series__modality="MR") | Q(series__field_strength__isnull=False)
)


def facts_for(datasets: Iterable[Dataset]) -> dict[int, Facts]:
    """The facts of each of ``datasets`` (with ``node`` loaded), in one query whatever their
    number."""
    datasets = list(datasets)
    rows = (
        Study.objects.filter(dataset_id__in=[d.pk for d in datasets])
        .values("dataset_id")
        .annotate(
            series_count=Count("series"),
            modality=Count("series", filter=~Q(series__modality="")),
            body_part=Count("series", filter=~Q(series__body_part="")),
            manufacturer=Count("series", filter=~Q(series__manufacturer="")),
            cross_sectional=Count("series", filter=CROSS_SECTIONAL),
            acquisition=Count("series", filter=CROSS_SECTIONAL & ACQUISITION_RECORDED),
            studies=Count("pk", distinct=True),
            dated=Count("pk", distinct=True, filter=Q(study_date__isnull=False)),
            subjects=Count("subject", distinct=True),
            first=Min("study_date"),
            last=Max("study_date"),
        )
    )
    by_dataset = {row["dataset_id"]: row for row in rows}
    facts = {}
    for dataset in datasets:
        row: Mapping[str, Any] = by_dataset.get(dataset.pk, {})
        facts[dataset.pk] = Facts(
            series=row.get("series_count", 0),
            with_modality=row.get("modality", 0),
            with_body_part=row.get("body_part", 0),
            with_manufacturer=row.get("manufacturer", 0),
            cross_sectional=row.get("cross_sectional", 0),
            with_acquisition=row.get("acquisition", 0),
            studies=row.get("studies", 0),
            dated_studies=row.get("dated", 0),
            subjects=row.get("subjects", 0),
            first_study=row.get("first"),
            last_study=row.get("last"),
            gate_profile=dataset.node.gate_profile,
            reviewed=dataset.reviewed_at or dataset.published_at,
        )
    return facts


def labels_for(
    datasets: Iterable[Dataset], *, today: date | None = None
) -> dict[int, QualityLabel]:
    """The label of each of ``datasets``, by primary key."""
    return {pk: label_from(f, today=today) for pk, f in facts_for(datasets).items()}


def label_for(dataset: Dataset, *, today: date | None = None) -> QualityLabel:
    return labels_for([dataset], today=today)[dataset.pk]


def count_by_level(datasets: Iterable[Dataset], *, today: date | None = None) -> dict[str, int]:
    """How many of ``datasets`` carry each level (every level listed, weakest first)."""
    counts = dict.fromkeys(LEVELS, 0)
    for label in labels_for(datasets, today=today).values():
        counts[label.level] += 1
    return counts


def review_basis(dataset: Dataset) -> datetime:
    """When the description was last known to be right: its last review, else its publication,
    else its creation."""
    return dataset.reviewed_at or dataset.published_at or dataset.created_at


def review_due(dataset: Dataset, now: datetime | None = None) -> bool:
    """A published dataset whose description has not been reviewed for a year."""
    now = now or timezone.now()
    return dataset.status == Dataset.Status.PUBLISHED and (
        review_basis(dataset) < now - REVIEW_INTERVAL
    )


def review_due_filter(now: datetime | None = None) -> Q:
    """Datasets in the catalogue whose description has not been reviewed for a year."""
    cutoff = (now or timezone.now()) - REVIEW_INTERVAL
    return Q(status=Dataset.Status.PUBLISHED) & (
        Q(reviewed_at__lt=cutoff)
        | Q(reviewed_at__isnull=True, published_at__lt=cutoff)
        | Q(reviewed_at__isnull=True, published_at__isnull=True, created_at__lt=cutoff)
    )


def add_annotation(graph: Graph, iri: URIRef, label: QualityLabel) -> None:
    """Add ``label`` to the DCAT description of the dataset ``iri`` as HealthDCAT-AP does: a
    ``dqv:QualityCertificate`` the dataset points to with ``dqv:hasQualityAnnotation``, whose
    body is the dataset page's explanation of the label."""
    certificate = URIRef(f"{iri}#quality-label")
    graph.add((iri, DQV.hasQualityAnnotation, certificate))
    graph.add((certificate, RDF.type, DQV.QualityCertificate))
    graph.add((certificate, OA.hasTarget, iri))
    graph.add((certificate, OA.hasBody, URIRef(f"{iri}/#quality")))
    graph.add((certificate, OA.motivatedBy, DQV.qualityAssessment))
    graph.add(
        (
            certificate,
            RDFS.label,
            Literal(f"EHDS Art 78 data quality and utility label: {label.level_label}", lang="en"),
        )
    )
    graph.add((certificate, RDFS.comment, Literal(label.summary, lang="en")))

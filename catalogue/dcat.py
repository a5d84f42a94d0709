"""The catalogue as RDF: HealthDCAT-AP release 8 with the EUCAIM DCAT-AP v2 extensions.

``dataset_graph`` describes one dataset, ``catalogue_graph`` a ``dcat:Catalog`` with its
datasets. Both only read the datasets and their nodes (use ``select_related("node")``), so an
export costs one query however many datasets it lists.

One dataset never breaks the catalogue: each dataset's description is built in a graph of its
own and every IRI in it is checked with ``catalogue.validators.iri_problem`` (the rule the write
paths apply); a dataset that fails (a row written behind the validators' back) is left out and
logged, and the rest is exported.

Every resource gets an IRI (no blank nodes): the dataset IRI is the address of its page, and the
resources that belong to it are fragments of that address. The Turtle and JSON-LD forms of a graph
are therefore the same set of triples.

Settings read: ``SITE_URL`` (by the views, as ``base_url``) and, for the health data access
body, ``HDAB_NAME``, ``HDAB_EMAIL`` and ``HDAB_URL``.
"""

import hashlib
import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import translation
from rdflib import RDF, RDFS, SKOS, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF

from catalogue import duo, quality
from catalogue.models import Dataset
from catalogue.validators import iri_problem
from catalogue.vocabularies import (
    COUNTRY_NAMES,
    AccessCondition,
    CollectionMethod,
    InteroperabilityLevel,
    Modality,
    Sex,
)

logger = logging.getLogger(__name__)

DCAT = Namespace("http://www.w3.org/ns/dcat#")  # DCAT 3 (rdflib's closed one lacks version)
DCATAP = Namespace("http://data.europa.eu/r5r/")
HEALTHDCATAP = Namespace("http://healthdataportal.eu/ns/health#")
CV = Namespace("http://data.europa.eu/m8g/")
GEODCATAP = Namespace("http://data.europa.eu/930/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
DPV = Namespace("https://w3id.org/dpv#")
EUCAIM = Namespace("https://hyperontology.eucaim.cancerimage.eu/#")
OBO = Namespace(duo.OBO)

ACCESS_RIGHT = Namespace("http://publications.europa.eu/resource/authority/access-right/")
COUNTRY = Namespace("http://publications.europa.eu/resource/authority/country/")
DATA_THEME = Namespace("http://publications.europa.eu/resource/authority/data-theme/")
FILE_TYPE = Namespace("http://publications.europa.eu/resource/authority/file-type/")
PLANNED_AVAILABILITY = Namespace(
    "http://publications.europa.eu/resource/authority/planned-availability/"
)
HEALTH_CATEGORY = Namespace(
    "https://hdeu-dcat.data.health.europa.eu/resource/authority/healthcategories/"
)
HEALTH_THEME = Namespace("https://hdeu-dcat.data.health.europa.eu/resource/authority/health-theme/")
MEDIA_TYPE = Namespace("http://www.iana.org/assignments/media-types/")
# EUCAIM controlled vocabularies. The access conditions are "#" fragments; the data-use
# conditions are written as their Turtle file declares them (without "#").
ACCESS_CONDITION = Namespace(
    "https://eucaim.github.io/eucaim_dcat_ap/releases/controlled-vocabularies/access-conditions/#"
)
DATA_USE_CONDITION = Namespace(
    "https://eucaim.github.io/eucaim_dcat_ap/releases/controlled-vocabularies/data-use-conditions/"
)

PREFIXES = {
    "dcat": DCAT,
    "dct": DCTERMS,
    "foaf": FOAF,
    "rdfs": RDFS,
    "skos": SKOS,
    "xsd": XSD,
    "dcatap": DCATAP,
    "healthdcatap": HEALTHDCATAP,
    "cv": CV,
    "geodcatap": GEODCATAP,
    "vcard": VCARD,
    "eli": ELI,
    "dpv": DPV,
    "eucaim": EUCAIM,
    "obo": OBO,
    "accessright": ACCESS_RIGHT,
    "country": COUNTRY,
    "healthcategory": HEALTH_CATEGORY,
    "accesscondition": ACCESS_CONDITION,
    "datausecondition": DATA_USE_CONDITION,
    "dqv": quality.DQV,
    "oa": quality.OA,
}

# ISO 3166-1 alpha-3 codes, as used by the EU country authority table, for the node countries.
ALPHA3 = {
    "AT": "AUT", "BE": "BEL", "BG": "BGR", "HR": "HRV", "CY": "CYP", "CZ": "CZE", "DK": "DNK",
    "EE": "EST", "FI": "FIN", "FR": "FRA", "DE": "DEU", "GR": "GRC", "HU": "HUN", "IE": "IRL",
    "IT": "ITA", "LV": "LVA", "LT": "LTU", "LU": "LUX", "MT": "MLT", "NL": "NLD", "PL": "POL",
    "PT": "PRT", "RO": "ROU", "SK": "SVK", "SI": "SVN", "ES": "ESP", "SE": "SWE", "IS": "ISL",
    "LI": "LIE", "NO": "NOR", "CH": "CHE", "GB": "GBR",
}  # fmt: skip

# EUCAIM hyper-ontology classes for the values we store, limited to the codes we could confirm.
# A value without a code is still exported, as a keyword; a value that already is a hyper-ontology
# code (e.g. "CLIN1000075") is used as it is.
EUCAIM_MODALITIES = {
    Modality.CT: "IMG1000026",  # Computed tomography
    Modality.MR: "IMG1000038",  # Magnetic resonance imaging
    Modality.PT: "IMG1004451",  # Positron emission tomography
    Modality.MG: "IMG1000030",  # Mammography
}
EUCAIM_BODY_PARTS = {  # DICOM Body Part Examined (0018,0015)
    "BREAST": "BP1000136",
    "COLON": "BP1000257",
    "LUNG": "BP1000113",
    "PELVIS": "BP1000092",
    "PROSTATE": "BP1000021",
}
EUCAIM_CONDITIONS = {  # lower-cased names as entered by node operators
    "breast cancer": "CLIN1000060",
    "colon cancer": "CLIN1000057",
    "lung cancer": "CLIN1000065",
    "prostate cancer": "CLIN1000075",
}
EUCAIM_SEXES = {Sex.FEMALE: "COM1001370", Sex.MALE: "COM1001366"}
# The parent classes of the three properties below. The EUCAIM profile names no labelled subclass
# codes for the tiers, collection methods and manufacturers (only unlabelled examples), so each
# value is a concept of the catalogue's own, labelled and linked to the EUCAIM parent class with
# skos:broadMatch (docs/operations.md, "EUCAIM properties"). A manufacturer stored as a
# hyper-ontology code is used as it is.
EUCAIM_INTEROPERABILITY_LEVEL = "SPEC1000008"
EUCAIM_COLLECTION_METHOD = "SPEC1000002"
EUCAIM_MANUFACTURER = "IMG1000010"
_EUCAIM_CODE = re.compile(r"^(BP|CLIN|COM|IMG|SPEC)\d{7}$")

ACCESS_CONDITION_TEXT = {
    AccessCondition.DOWNLOAD: (
        "Download of the de-identified DICOM studies from the node's DICOMweb service, with an "
        "access token the portal issues once access has been granted."
    ),
    AccessCondition.IN_SITU_PROCESSING: (
        "Processing inside the secure environment of the node that holds the data, after access "
        "has been granted through the portal."
    ),
    AccessCondition.REMOTE_PROCESSING: (
        "Processing submitted to the node that holds the data, without direct access to the "
        "images, after access has been granted through the portal."
    ),
}


def dataset_iri(dataset: Dataset, *, base_url: str) -> URIRef:
    """The IRI of a dataset: the address of its page in the portal."""
    return URIRef(f"{base_url.rstrip('/')}/catalogue/datasets/{dataset.pk}")


def catalogue_iri(*, base_url: str) -> URIRef:
    return URIRef(f"{base_url.rstrip('/')}/catalogue/")


def new_graph() -> Graph:
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, replace=True)
    return graph


def _text(value: str) -> Literal:
    return Literal(value, lang="en")


def _count(value: int) -> Literal:
    return Literal(int(value), datatype=XSD.nonNegativeInteger)


def _datetime(value) -> Literal:
    return Literal(value.replace(microsecond=0), datatype=XSD.dateTime)


def _eucaim(value: str, table: dict) -> URIRef | None:
    value = str(value).strip()
    if _EUCAIM_CODE.match(value):
        return EUCAIM[value]
    code = table.get(value) or table.get(value.upper()) or table.get(value.lower())
    return EUCAIM[code] if code else None


def _add_concept(graph: Graph, iri: URIRef, *, label: str, parent: str) -> URIRef:
    graph.add((iri, RDF.type, SKOS.Concept))
    graph.add((iri, SKOS.prefLabel, _text(label)))
    graph.add((iri, SKOS.broadMatch, EUCAIM[parent]))
    return iri


def _slug(value: str) -> str:
    """A fragment for a value: its ASCII letters and digits, or a digest of it if it has none."""
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug or hashlib.sha256(value.encode()).hexdigest()[:16]


def uncoded_values(dataset: Dataset) -> list[str]:
    """Plain-language warnings for the node's operators, one per condition or body part that has
    no EUCAIM hyper-ontology code (exported as a keyword only, not as ``eucaim:hasCondition`` or
    ``eucaim:hasImageBodyPart``), each naming the value; and one when no equipment manufacturer
    is known yet (``eucaim:hasEquipmentManufacturer`` is mandatory)."""
    warnings = []
    for values, table, what, prop in [
        (dataset.conditions, EUCAIM_CONDITIONS, "condition", "eucaim:hasCondition"),
        (dataset.body_parts, EUCAIM_BODY_PARTS, "body part", "eucaim:hasImageBodyPart"),
    ]:
        for value in values:
            if str(value).strip() and _eucaim(value, table) is None:
                warnings.append(
                    f'The {what} "{value}" has no EUCAIM hyper-ontology code: the DCAT export '
                    f"lists it as a keyword only, not as {prop}. Use a name the portal knows "
                    "or the hyper-ontology code itself."
                )
    if not dataset.manufacturers:
        warnings.append(
            "No equipment manufacturer is known yet: eucaim:hasEquipmentManufacturer, mandatory "
            "for EUCAIM, is filled from the DICOM Manufacturer (0008,0070) of the indexed "
            "series once images are ingested."
        )
    return warnings


def _add_hdab(graph: Graph, *, base_url: str) -> URIRef:
    """The health data access body: a foaf:Agent with one cv:ContactPoint."""
    site = base_url.rstrip("/")
    host = urlsplit(site).hostname or "localhost"
    name = getattr(settings, "HDAB_NAME", "") or "Health data access body of the imaging atlas"
    email = getattr(settings, "HDAB_EMAIL", "") or f"hdab@{host}"
    page = getattr(settings, "HDAB_URL", "") or f"{site}/"
    agent = URIRef(f"{catalogue_iri(base_url=base_url)}#hdab")
    contact = URIRef(f"{agent}-contact-point")
    graph.add((agent, RDF.type, FOAF.Agent))
    graph.add((agent, FOAF.name, _text(name)))
    graph.add((agent, CV.contactPoint, contact))
    graph.add((contact, RDF.type, CV.ContactPoint))
    graph.add((contact, CV.email, Literal(email)))
    graph.add((contact, CV.contactPage, URIRef(page)))
    return agent


def _add_agent(graph: Graph, iri: URIRef, *, name: str, email: str) -> URIRef:
    contact = URIRef(f"{iri}-contact-point")
    graph.add((iri, RDF.type, FOAF.Agent))
    graph.add((iri, FOAF.name, _text(name)))
    graph.add((iri, CV.contactPoint, contact))
    graph.add((contact, RDF.type, CV.ContactPoint))
    graph.add((contact, CV.email, Literal(email)))
    return iri


def _keywords(dataset: Dataset) -> list[str]:
    """The dataset's keywords, then its conditions, modalities and body parts, for discovery."""
    modality_labels = dict(Modality.choices)
    values = [
        *dataset.keywords,
        *dataset.conditions,
        *(str(modality_labels.get(m, m)) for m in dataset.modalities),
        *(b.capitalize() if b.isupper() else b for b in dataset.body_parts),
    ]
    seen: set[str] = set()
    keywords = []
    for value in values:
        value = str(value).strip()
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            keywords.append(value)
    return keywords


def _add_data_use_condition(graph: Graph, code: str) -> URIRef | None:
    term = duo.BY_CODE.get(code)
    if term is None:
        return None
    concept = DATA_USE_CONDITION[term.eucaim]
    graph.add((concept, RDF.type, SKOS.Concept))
    graph.add((concept, RDF.type, DCTERMS.RightsStatement))
    graph.add((concept, SKOS.prefLabel, _text(term.label[:1].upper() + term.label[1:])))
    graph.add((concept, SKOS.notation, Literal(code.replace(":", "_"))))
    graph.add((concept, SKOS.exactMatch, URIRef(term.iri)))
    return concept


def _add_distribution(graph: Graph, dataset: Dataset, iri: URIRef, condition: str) -> URIRef:
    distribution = URIRef(f"{iri}#distribution-{condition.lower().replace('_', '-')}")
    label = AccessCondition(condition).label if condition in AccessCondition.values else condition
    graph.add((distribution, RDF.type, DCAT.Distribution))
    graph.add((distribution, DCTERMS.title, _text(f"{dataset.title}: {label}")))
    if condition in ACCESS_CONDITION_TEXT:
        graph.add((distribution, DCTERMS.description, _text(ACCESS_CONDITION_TEXT[condition])))
    if condition == AccessCondition.DOWNLOAD:
        graph.add((distribution, DCAT.accessURL, URIRef(dataset.node.dicomweb_base_url)))
        graph.add((distribution, DCAT.mediaType, MEDIA_TYPE["application/dicom"]))
        graph.add((MEDIA_TYPE["application/dicom"], RDF.type, DCTERMS.MediaType))
    else:
        # Access is requested and granted on the dataset's page.
        graph.add((distribution, DCAT.accessURL, iri))
        graph.add((distribution, DCTERMS.format, FILE_TYPE.HTML))
        graph.add((FILE_TYPE.HTML, RDF.type, DCTERMS.MediaTypeOrExtent))
    graph.add((distribution, DCATAP.availability, PLANNED_AVAILABILITY.AVAILABLE))
    for eli in dataset.applicable_legislation:
        graph.add((distribution, DCATAP.applicableLegislation, URIRef(eli)))
    if dataset.licence:
        graph.add((distribution, DCTERMS.license, URIRef(dataset.licence)))
        graph.add((URIRef(dataset.licence), RDF.type, DCTERMS.LicenseDocument))
    graph.add((distribution, DCTERMS.rights, ACCESS_CONDITION[condition]))
    graph.add((ACCESS_CONDITION[condition], RDF.type, DCTERMS.RightsStatement))
    return distribution


def add_dataset(
    graph: Graph,
    dataset: Dataset,
    *,
    base_url: str,
    quality_label: quality.QualityLabel | None = None,
) -> URIRef:
    """Add the description of ``dataset`` (with ``dataset.node`` loaded) to ``graph``, with its
    quality label (computed here unless given).

    Labels come from translatable choices: call it with English active (the public functions do).
    """
    iri = dataset_iri(dataset, base_url=base_url)
    node = dataset.node
    add = graph.add

    add((iri, RDF.type, DCAT.Dataset))
    add((iri, DCTERMS.identifier, Literal(str(dataset.identifier))))
    add((iri, DCTERMS.title, _text(dataset.title)))
    add((iri, DCTERMS.description, _text(dataset.description)))
    add((iri, DCAT.version, Literal(dataset.version)))
    for keyword in _keywords(dataset):
        add((iri, DCAT.keyword, _text(keyword)))
    if dataset.published_at:
        add((iri, DCTERMS.issued, _datetime(dataset.published_at)))
    if dataset.modified_at:
        add((iri, DCTERMS.modified, _datetime(dataset.modified_at)))

    # Classification
    add((iri, DCAT.theme, DATA_THEME.HEAL))
    add((iri, HEALTHDCATAP.healthTheme, HEALTH_THEME.CANCER_DISEASE))
    for code in dataset.health_categories:
        add((iri, HEALTHDCATAP.healthCategory, HEALTH_CATEGORY[code]))
    # De-identified images whose subjects carry pseudonyms.
    add((iri, DCTERMS.type, DPV.PseudonymisedData))

    # Access and rights
    add((iri, DCTERMS.accessRights, ACCESS_RIGHT[dataset.access_rights]))
    add((ACCESS_RIGHT[dataset.access_rights], RDF.type, DCTERMS.RightsStatement))
    for eli in dataset.applicable_legislation:
        add((iri, DCATAP.applicableLegislation, URIRef(eli)))
        add((URIRef(eli), RDF.type, ELI.LegalResource))

    # Agents and contacts
    publisher = _add_agent(
        graph,
        URIRef(f"{iri}#publisher"),
        name=dataset.publisher_name or node.organisation,
        email=node.contact_email,
    )
    add((iri, DCTERMS.publisher, publisher))
    custodian = _add_agent(
        graph, URIRef(f"{iri}#custodian"), name=node.organisation, email=node.contact_email
    )
    add((iri, GEODCATAP.custodian, custodian))
    add((iri, HEALTHDCATAP.hdab, _add_hdab(graph, base_url=base_url)))
    contact = URIRef(f"{iri}#contact-point")
    add((iri, DCAT.contactPoint, contact))
    add((contact, RDF.type, VCARD.Kind))
    add((contact, VCARD.fn, Literal(dataset.contact_name)))
    add((contact, VCARD.hasEmail, URIRef(f"mailto:{dataset.contact_email}")))

    # Provenance
    provenance = URIRef(f"{iri}#provenance")
    add((iri, DCTERMS.provenance, provenance))
    add((provenance, RDF.type, DCTERMS.ProvenanceStatement))
    add(
        (
            provenance,
            RDFS.label,
            _text(
                f"Imaging studies held by {node.organisation} at the {node.name} node, "
                "de-identified before indexing; the counts come from the portal's study and "
                "series index."
            ),
        )
    )

    # Subjects, population and coverage
    add((iri, HEALTHDCATAP.hasStructuredData, Literal(False)))
    add((iri, HEALTHDCATAP.numberOfRecords, _count(dataset.number_of_studies)))
    add((iri, HEALTHDCATAP.numberOfUniqueIndividuals, _count(dataset.number_of_subjects)))
    if dataset.min_age is not None:
        add((iri, HEALTHDCATAP.minTypicalAge, _count(dataset.min_age)))
    if dataset.max_age is not None:
        add((iri, HEALTHDCATAP.maxTypicalAge, _count(dataset.max_age)))
    if dataset.temporal_start or dataset.temporal_end:
        period = URIRef(f"{iri}#temporal")
        add((iri, DCTERMS.temporal, period))
        add((period, RDF.type, DCTERMS.PeriodOfTime))
        if dataset.temporal_start:
            add((period, DCAT.startDate, Literal(dataset.temporal_start, datatype=XSD.date)))
        if dataset.temporal_end:
            add((period, DCAT.endDate, Literal(dataset.temporal_end, datatype=XSD.date)))
    if node.country in ALPHA3:
        place = COUNTRY[ALPHA3[node.country]]
        add((iri, DCTERMS.spatial, place))
        add((place, RDF.type, DCTERMS.Location))
        add((place, SKOS.prefLabel, _text(str(COUNTRY_NAMES[node.country]))))

    # EUCAIM imaging properties
    for values, table, prop in [
        (dataset.modalities, EUCAIM_MODALITIES, EUCAIM.hasImageModality),
        (dataset.body_parts, EUCAIM_BODY_PARTS, EUCAIM.hasImageBodyPart),
        (dataset.conditions, EUCAIM_CONDITIONS, EUCAIM.hasCondition),
        (dataset.sexes, EUCAIM_SEXES, EUCAIM.hasBirthSex),
    ]:
        for value in values:
            term = _eucaim(value, table)
            if term is not None:
                add((iri, prop, term))

    # EUCAIM tier, collection methods and equipment manufacturers (from the index).
    catalogue = catalogue_iri(base_url=base_url)
    level = dataset.interoperability_level
    add(
        (
            iri,
            EUCAIM.interoperabilityLevel,
            _add_concept(
                graph,
                URIRef(f"{catalogue}#interoperability-level-{_slug(level)}"),
                label=str(InteroperabilityLevel(level).label),
                parent=EUCAIM_INTEROPERABILITY_LEVEL,
            ),
        )
    )
    for method in dataset.collection_methods:
        concept = URIRef(f"{catalogue}#collection-method-{_slug(method)}")
        label = str(CollectionMethod(method).label)
        _add_concept(graph, concept, label=label, parent=EUCAIM_COLLECTION_METHOD)
        add((iri, EUCAIM.collectionMethod, concept))
    named: set[URIRef] = set()
    for manufacturer in dataset.manufacturers:
        manufacturer = str(manufacturer).strip()
        if _EUCAIM_CODE.match(manufacturer):
            add((iri, EUCAIM.hasEquipmentManufacturer, EUCAIM[manufacturer]))
            continue
        # "SIEMENS" and "Siemens" are one manufacturer: one concept, labelled as first seen.
        concept = URIRef(f"{catalogue}#manufacturer-{_slug(manufacturer)}")
        if concept not in named:
            named.add(concept)
            _add_concept(graph, concept, label=manufacturer, parent=EUCAIM_MANUFACTURER)
        add((iri, EUCAIM.hasEquipmentManufacturer, concept))

    # Data-use conditions. EUCAIM lists them with the access condition as the dct:rights of a
    # distribution, but DCAT-AP allows a distribution only one dct:rights, which the access
    # condition takes; they are therefore the dct:rights of the dataset.
    for code in dataset.duo_codes:
        concept = _add_data_use_condition(graph, code)
        if concept is not None:
            add((iri, DCTERMS.rights, concept))

    # Distributions: one per access condition.
    for condition in dataset.access_conditions:
        add((iri, DCAT.distribution, _add_distribution(graph, dataset, iri, condition)))
    quality.add_annotation(graph, iri, quality_label or quality.label_for(dataset))
    return iri


class NotExportable(Exception):
    """A stored dataset whose description cannot be written as RDF (its message says why)."""


def _checked_description(
    dataset: Dataset, *, base_url: str, quality_label: quality.QualityLabel | None = None
) -> tuple[URIRef, Graph]:
    """The description of ``dataset`` in a graph of its own, once every IRI in it is valid.

    Raises NotExportable naming the first IRI that ``iri_problem`` refuses, or the error that
    building the description raised.
    """
    part = Graph()
    try:
        iri = add_dataset(part, dataset, base_url=base_url, quality_label=quality_label)
    except Exception as error:  # a stored value the exporter cannot read
        raise NotExportable(f"{type(error).__name__}: {error}") from error
    for term in part.all_nodes():
        if isinstance(term, URIRef):
            problem = iri_problem(str(term))
            if problem:
                raise NotExportable(f"the IRI {str(term)!r} is not valid: {problem}")
    return iri, part


def _log_left_out(dataset: Dataset, error: NotExportable) -> None:
    logger.warning(
        "Dataset %s (node %s) is left out of the DCAT export: %s",
        dataset.pk,
        dataset.node_id,
        error,
    )


def dataset_graph(dataset: Dataset, *, base_url: str) -> Graph:
    """One dataset (with ``dataset.node`` loaded) as a HealthDCAT-AP graph.

    Raises NotExportable (and logs it) when the stored description cannot be exported.
    """
    graph = new_graph()
    with translation.override("en"):
        try:
            _, part = _checked_description(dataset, base_url=base_url)
        except NotExportable as error:
            _log_left_out(dataset, error)
            raise
    graph += part
    return graph


def catalogue_graph(datasets: Iterable[Dataset], *, base_url: str) -> Graph:
    """A ``dcat:Catalog`` listing ``datasets``, with each dataset's description.

    A dataset whose description cannot be exported is left out and logged; the others are
    listed all the same.
    """
    graph = new_graph()
    catalogue = catalogue_iri(base_url=base_url)
    site = f"{base_url.rstrip('/')}/"
    graph.add((catalogue, RDF.type, DCAT.Catalog))
    graph.add((catalogue, DCTERMS.title, _text("Federated cancer-imaging atlas catalogue")))
    graph.add(
        (
            catalogue,
            DCTERMS.description,
            _text(
                "Cancer imaging collections held by the atlas's nodes, described with "
                "HealthDCAT-AP and the EUCAIM DCAT-AP extensions. Access is requested through "
                "the portal."
            ),
        )
    )
    graph.add((catalogue, DCTERMS.publisher, _add_hdab(graph, base_url=base_url)))
    graph.add((catalogue, FOAF.homepage, URIRef(site)))
    graph.add((URIRef(site), RDF.type, FOAF.Document))
    graph.add((catalogue, DCATAP.applicableLegislation, URIRef(Dataset.default_legislation()[0])))
    graph.add((catalogue, DCAT.themeTaxonomy, URIRef(str(DATA_THEME))))
    latest = None
    datasets = list(datasets)
    labels = quality.labels_for(datasets)
    with translation.override("en"):
        for dataset in datasets:
            try:
                iri, part = _checked_description(
                    dataset, base_url=base_url, quality_label=labels.get(dataset.pk)
                )
            except NotExportable as error:
                _log_left_out(dataset, error)
                continue
            graph += part
            graph.add((catalogue, DCAT.dataset, iri))
            if dataset.modified_at and (latest is None or dataset.modified_at > latest):
                latest = dataset.modified_at
    if latest:
        graph.add((catalogue, DCTERMS.modified, _datetime(latest)))
    return graph


# A compact JSON-LD context for the exports; nothing is fetched to read them.
JSONLD_CONTEXT = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}


def to_turtle(graph: Graph) -> str:
    return graph.serialize(format="turtle")


def to_jsonld(graph: Graph) -> str:
    return graph.serialize(format="json-ld", context=JSONLD_CONTEXT, indent=2)

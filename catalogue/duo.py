"""GA4GH Data Use Ontology (DUO): the terms the portal knows, their hierarchy and their labels.

The one source for every app. A dataset carries the terms as its data-use conditions (and the
DCAT export gives each its EUCAIM concept), an application describes its use with them, and the
pre-screening (``access.prescreen``) compares the two along the hierarchy.

Codes, shorthands, labels and parents follow the DUO release the portal ships (2021-02-23,
``shared/data/duo/duo.owl``); a test compares them with that file. Permissions say what kind of
use is allowed; modifiers add requirements or limits. The two categories above them, "data use
permission" and "data use modifier", are terms of the hierarchy but not conditions: a dataset or
an application cannot carry them.

Pure: no Django, no database.
"""

from dataclasses import dataclass

OBO = "http://purl.obolibrary.org/obo/"

PERMISSION = "DUO:0000001"
MODIFIER = "DUO:0000017"
NRES = "DUO:0000004"
HMB = "DUO:0000006"
DS = "DUO:0000007"
POA = "DUO:0000011"
RS = "DUO:0000012"
NMDS = "DUO:0000015"
GSO = "DUO:0000016"
NPUNCU = "DUO:0000018"
PUB = "DUO:0000019"
COL = "DUO:0000020"
IRB = "DUO:0000021"
GS = "DUO:0000022"
MOR = "DUO:0000024"
TS = "DUO:0000025"
US = "DUO:0000026"
PS = "DUO:0000027"
IS = "DUO:0000028"
RTN = "DUO:0000029"
GRU = "DUO:0000042"
CC = "DUO:0000043"
NPOA = "DUO:0000044"
NPU = "DUO:0000045"
NCU = "DUO:0000046"


@dataclass(frozen=True)
class DuoTerm:
    code: str
    shorthand: str
    label: str
    # Its DUO parents as asserted in the release (parents outside DUO, such as the IAO class
    # above the two categories, are left out).
    parents: tuple[str, ...]
    # The EUCAIM data-use condition that is an exact match of the term ("" for a category).
    eucaim: str = ""

    @property
    def iri(self) -> str:
        return OBO + self.code.replace(":", "_")


CATEGORIES = [
    DuoTerm(PERMISSION, "", "data use permission", ()),
    DuoTerm(MODIFIER, "", "data use modifier", ()),
]

# The conditions a dataset may carry and an application may declare, in the order offered.
# Columns: code, shorthand, label, parents, EUCAIM data-use condition.
TERMS = [
    DuoTerm(NRES, "NRES", "no restriction", (PERMISSION,), "NO_RESTRICTION"),
    DuoTerm(GRU, "GRU", "general research use", (PERMISSION,), "GENERAL_RESEARCH_USE"),
    DuoTerm(HMB, "HMB", "health or medical or biomedical research", (GRU,),
            "HEALTH_MEDICAL_BIOMEDICAL_RESEARCH"),
    DuoTerm(DS, "DS", "disease specific research", (HMB,), "DISEASE_SPECIFIC_RESEARCH"),
    DuoTerm(POA, "POA", "population origins or ancestry research only", (PERMISSION,),
            "POPULATION_ORIGINS_ANCESTRY_RESEARCH_ONLY"),
    DuoTerm(RS, "RS", "research specific restrictions", (MODIFIER,),
            "RESEARCH_SPECIFIC_RESTRICTIONS"),
    DuoTerm(NMDS, "NMDS", "no general methods research", (MODIFIER,),
            "NO_GENERAL_METHODS_RESEARCH"),
    DuoTerm(GSO, "GSO", "genetic studies only", (MODIFIER,), "GENETIC_STUDIES_ONLY"),
    DuoTerm(NPUNCU, "NPUNCU", "not for profit, non commercial use only", (MODIFIER,),
            "NOT_FOR_PROFIT_NON_COMMERCIAL_USE_ONLY"),
    DuoTerm(PUB, "PUB", "publication required", (MODIFIER,), "PUBLICATION_REQUIRED"),
    DuoTerm(COL, "COL", "collaboration required", (MODIFIER,), "COLLABORATION_REQUIRED"),
    DuoTerm(IRB, "IRB", "ethics approval required", (MODIFIER,), "ETHICS_APPROVAL_REQUIRED"),
    DuoTerm(GS, "GS", "geographical restriction", (MODIFIER,), "GEOGRAPHICAL_RESTRICTION"),
    DuoTerm(MOR, "MOR", "publication moratorium", (MODIFIER,), "PUBLICATION_MORATORIUM"),
    DuoTerm(TS, "TS", "time limit on use", (MODIFIER,), "TIME_LIMIT_ON_USE"),
    DuoTerm(US, "US", "user specific restriction", (MODIFIER,), "USER_SPECIFIC_RESTRICTION"),
    DuoTerm(PS, "PS", "project specific restriction", (MODIFIER,),
            "PROJECT_SPECIFIC_RESTRICTION"),
    DuoTerm(IS, "IS", "institution specific restriction", (MODIFIER,),
            "INSTITUTION_SPECIFIC_RESTRICTION"),
    DuoTerm(RTN, "RTN", "return to database or resource", (MODIFIER,),
            "RETURN_TO_DATABASE_OR_RESOURCE"),
    DuoTerm(CC, "CC", "clinical care use", (MODIFIER,), "CLINICAL_CARE_USE"),
    DuoTerm(NPOA, "NPOA", "population origins or ancestry research prohibited", (MODIFIER,),
            "POPULATION_ORIGINS_ANCESTRY_RESEARCH_PROHIBITED"),
    DuoTerm(NPU, "NPU", "not for profit organisation use only", (NPUNCU,),
            "NOT_FOR_PROFIT_ORGANISATION_USE_ONLY"),
    DuoTerm(NCU, "NCU", "non-commercial use only", (NPUNCU,), "NON_COMMERCIAL_USE_ONLY"),
]  # fmt: skip

# The conditions by code: what a dataset or an application may carry.
BY_CODE = {t.code: t for t in TERMS}
# Every term of the hierarchy by code, the two categories included.
KNOWN = {t.code: t for t in [*CATEGORIES, *TERMS]}
# Term → its DUO parents (checked against duo.owl by the tests).
HIERARCHY: dict[str, tuple[str, ...]] = {code: t.parents for code, t in KNOWN.items()}
CHOICES = [(t.code, f"{t.shorthand} — {t.label}") for t in TERMS]


def label(code: str) -> str:
    """``HMB (health or medical or biomedical research)``; a category without a shorthand as
    ``DUO:0000001 (data use permission)``; a code the portal does not know as it is."""
    term = KNOWN.get(code)
    if term is None:
        return code
    return f"{term.shorthand or term.code} ({term.label})"


def shorthand(code: str) -> str:
    """``HMB`` for DUO:0000006; the code itself when the term has no shorthand or is unknown."""
    term = KNOWN.get(code)
    return (term.shorthand if term else "") or code


def ancestors(code: str) -> frozenset[str]:
    """Every DUO ancestor of ``code`` in ``HIERARCHY`` (not the code itself)."""
    seen: set[str] = set()
    todo = list(HIERARCHY.get(code, ()))
    while todo:
        parent = todo.pop()
        if parent not in seen:
            seen.add(parent)
            todo.extend(HIERARCHY.get(parent, ()))
    return frozenset(seen)


def is_permission(code: str) -> bool:
    return PERMISSION in ancestors(code)


def is_modifier(code: str) -> bool:
    return MODIFIER in ancestors(code)


def normalise_code(code: str) -> str:
    """``DUO:0000046`` from the CURIE, underscore or OBO IRI spelling; other text unchanged."""
    text = code.strip()
    if text.startswith(OBO):
        text = text[len(OBO) :]
    upper = text.upper()
    if upper.startswith("DUO_") or upper.startswith("DUO:"):
        return "DUO:" + text[4:]
    return text

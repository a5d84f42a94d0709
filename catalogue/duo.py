"""GA4GH Data Use Ontology terms that datasets may carry as data-use conditions.

Labels follow the DUO release (tests compare them with the ontology file). Permissions say what
kind of use is allowed; modifiers add requirements or limits.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DuoTerm:
    code: str
    shorthand: str
    label: str
    kind: str  # "permission" or "modifier"

    @property
    def iri(self) -> str:
        return "http://purl.obolibrary.org/obo/" + self.code.replace(":", "_")


TERMS = [
    DuoTerm("DUO:0000004", "NRES", "no restriction", "permission"),
    DuoTerm("DUO:0000042", "GRU", "general research use", "permission"),
    DuoTerm("DUO:0000006", "HMB", "health or medical or biomedical research", "permission"),
    DuoTerm("DUO:0000007", "DS", "disease specific research", "permission"),
    DuoTerm("DUO:0000011", "POA", "population origins or ancestry research only", "permission"),
    DuoTerm("DUO:0000012", "RS", "research specific restrictions", "modifier"),
    DuoTerm("DUO:0000015", "NMDS", "no general methods research", "modifier"),
    DuoTerm("DUO:0000016", "GSO", "genetic studies only", "modifier"),
    DuoTerm("DUO:0000018", "NPUNCU", "not for profit, non commercial use only", "modifier"),
    DuoTerm("DUO:0000019", "PUB", "publication required", "modifier"),
    DuoTerm("DUO:0000020", "COL", "collaboration required", "modifier"),
    DuoTerm("DUO:0000021", "IRB", "ethics approval required", "modifier"),
    DuoTerm("DUO:0000022", "GS", "geographical restriction", "modifier"),
    DuoTerm("DUO:0000024", "MOR", "publication moratorium", "modifier"),
    DuoTerm("DUO:0000025", "TS", "time limit on use", "modifier"),
    DuoTerm("DUO:0000026", "US", "user specific restriction", "modifier"),
    DuoTerm("DUO:0000027", "PS", "project specific restriction", "modifier"),
    DuoTerm("DUO:0000028", "IS", "institution specific restriction", "modifier"),
    DuoTerm("DUO:0000029", "RTN", "return to database or resource", "modifier"),
    DuoTerm("DUO:0000043", "CC", "clinical care use", "modifier"),
    DuoTerm(
        "DUO:0000044", "NPOA", "population origins or ancestry research prohibited", "modifier"
    ),
    DuoTerm("DUO:0000045", "NPU", "not for profit organisation use only", "modifier"),
    DuoTerm("DUO:0000046", "NCU", "non-commercial use only", "modifier"),
]
BY_CODE = {t.code: t for t in TERMS}
CHOICES = [(t.code, f"{t.shorthand} — {t.label}") for t in TERMS]


def label(code: str) -> str:
    term = BY_CODE.get(code)
    return f"{term.shorthand} ({term.label})" if term else code

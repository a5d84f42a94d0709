"""What the citizen's pages say about consents: the choices of a donation in plain words, and a
summary in words of any stored version (the portal's own or one a client wrote to the FHIR
API), read from the columns copied from it."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalogue import duo
from catalogue.models import Node
from catalogue.purposes import Purpose
from consent.models import ConsentRecord, ConsentVersion

# The kinds of data a donor chooses (``consent.terms.CATEGORY_TYPES``).
CATEGORIES: dict[str, Promise] = {
    "imaging": gettext_lazy("Images: scans and the descriptions that come with them"),
    "clinical": gettext_lazy(
        "Clinical data: diagnoses, observations, reports and procedures linked to the images"
    ),
}

# EHDS Art 53(1) purposes in plain words, with the point of the article each one is.
PURPOSES: dict[str, Promise] = {
    Purpose.PUBLIC_HEALTH: gettext_lazy(
        "Protecting public health, such as following how often cancers occur (Art 53(1)(a))"
    ),
    Purpose.POLICY: gettext_lazy(
        "Helping public authorities make health policy and regulation (Art 53(1)(b))"
    ),
    Purpose.STATISTICS: gettext_lazy("Official health statistics (Art 53(1)(c))"),
    Purpose.EDUCATION: gettext_lazy("Teaching health professionals and students (Art 53(1)(d))"),
    Purpose.RESEARCH: gettext_lazy(
        "Scientific research on health or care, of every kind (Art 53(1)(e))"
    ),
    Purpose.RESEARCH_INNOVATION: gettext_lazy(
        "Research to develop new medical products or services (Art 53(1)(e)(i))"
    ),
    Purpose.RESEARCH_AI: gettext_lazy(
        "Research to train, test and evaluate computer programs, including AI (Art 53(1)(e)(ii))"
    ),
    Purpose.IMPROVING_CARE: gettext_lazy(
        "Improving care and treatment for patients (Art 53(1)(f))"
    ),
}

# The kind of research (DUO permission): one at most.
ANY_USE = ""
RESEARCH_KINDS: dict[str, Promise] = {
    ANY_USE: gettext_lazy("No further limit: any use for the purposes I chose"),
    duo.GRU: gettext_lazy("Research only (any research)"),
    duo.HMB: gettext_lazy("Health or medical research only"),
    duo.DS: gettext_lazy("Research on one disease only (name it below)"),
}

# Conditions every use must meet, and what it may never be used for.
CONDITIONS: dict[str, Promise] = {
    duo.NCU: gettext_lazy("Not for commercial use"),
    duo.NPU: gettext_lazy("Only by not-for-profit organisations"),
    duo.NPUNCU: gettext_lazy("Only by not-for-profit organisations, and not commercially"),
    duo.IRB: gettext_lazy("Only with the approval of an ethics committee"),
    duo.PUB: gettext_lazy("The results must be published"),
    duo.COL: gettext_lazy("Only in collaboration with the people who collected the data"),
    duo.RTN: gettext_lazy("Results and new data must be returned to the hospital or node"),
    duo.NPOA: gettext_lazy("Never for research on population origins or ancestry"),
    duo.NMDS: gettext_lazy(
        "Never to develop general research methods (such as new products or AI)"
    ),
}


def purpose_label(code: str) -> str:
    return str(PURPOSES.get(code, code))


def duo_label(code: str) -> str:
    """A DUO term in words: the citizen's wording where there is one, else DUO's label."""
    wording = CONDITIONS.get(code) or RESEARCH_KINDS.get(code)
    if wording is not None:
        return str(wording)
    term = duo.BY_CODE.get(code)
    return term.label if term else code


@dataclass
class Summary:
    """One version of a consent in words."""

    kind: str
    status: str
    in_force: bool
    headline: str
    nodes: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    purposes: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    disease: str = ""
    period: str = ""


def _day(moment: Any) -> str:
    if moment is None:
        return ""
    if hasattr(moment, "tzinfo"):
        moment = timezone.localdate(moment)
    return f"{moment:%d %B %Y}".lstrip("0")


def _disease(resource: Mapping[str, Any]) -> str:
    """The disease a donation for research on one disease names (the portal writes it as the
    ``code`` of the donated provision)."""
    todo = list(resource.get("provision") or [])
    while todo:
        provision = todo.pop(0)
        if not isinstance(provision, Mapping):
            continue
        for concept in provision.get("code") or []:
            if isinstance(concept, Mapping) and isinstance(concept.get("text"), str):
                return str(concept["text"])
        todo.extend(provision.get("provision") or [])
    return ""


def node_names(versions: Iterable[ConsentVersion]) -> dict[str, str]:
    """The names of the nodes some versions name, by token audience (one query)."""
    audiences = {a for v in versions for a in v.node_ids}
    if not audiences:
        return {}
    return dict(Node.objects.filter(audience__in=audiences).values_list("audience", "name"))


def _in_force(version: ConsentVersion, now: Any) -> bool:
    if version.status != "active":
        return False
    started = version.period_start is None or version.period_start <= now
    return started and (version.period_end is None or now < version.period_end)


def _period(version: ConsentVersion, now: Any) -> str:
    start = _day(version.period_start)
    if version.period_end is None:
        return _("From %(start)s, until withdrawn.") % {"start": start}
    # A chosen end is a date (the donation covers that whole day); a withdrawal ends it at an
    # instant.
    written = (version.resource.get("period") or {}).get("end")
    if isinstance(written, str) and len(written) == 10:
        end = _day(date.fromisoformat(written))
    else:
        end = _day(version.period_end)
    if version.period_end > now:
        return _("From %(start)s until the end of %(end)s.") % {"start": start, "end": end}
    return _("From %(start)s; ended on %(end)s.") % {"start": start, "end": end}


def summarise(version: ConsentVersion, names: Mapping[str, str]) -> Summary:
    """``version`` in words; ``names`` gives node names by audience (:func:`node_names`)."""
    now = timezone.now()
    in_force = _in_force(version, now)
    kind = version.record.kind
    if kind == ConsentRecord.Kind.OPT_OUT:
        headline = (
            _("You opted out of the secondary use of your data.")
            if in_force
            else _("Opt-out revoked: it no longer applies.")
        )
    elif in_force:
        headline = _("You donate your data as described below.")
    elif version.status == "inactive":
        headline = _("Donation withdrawn: your data may not be used.")
    elif version.status == "active":
        headline = _("Donation not in force at present (outside its dates).")
    else:
        headline = _("Donation recorded with status “%(status)s”: it is not in force.") % {
            "status": version.status
        }
    summary = Summary(
        kind=kind, status=version.status, in_force=in_force, headline=headline,
        period=_period(version, now),
    )  # fmt: skip
    if kind != ConsentRecord.Kind.DONATION:
        return summary
    summary.nodes = [names.get(a, a) for a in dict.fromkeys(version.node_ids)]
    summary.categories = [str(CATEGORIES.get(c, c)) for c in dict.fromkeys(version.categories)]
    summary.purposes = [purpose_label(p) for p in dict.fromkeys(version.purposes)]
    summary.conditions = [duo_label(c) for c in dict.fromkeys(version.duo_codes)]
    summary.disease = _disease(version.resource)
    return summary

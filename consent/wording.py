"""What the citizen's pages say about consents: the choices of a donation in plain words, and a
summary in words of any stored version (the portal's own or one a client wrote to the FHIR
API), read from the resource: what its provisions permit, and what they deny as "never"."""

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
from consent import fhir
from consent.models import ConsentRecord, ConsentVersion
from consent.terms import DUO_SYSTEM, EHDS_PURPOSE_SYSTEM, RESEARCH_PURPOSES, items

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

# The kind of research (DUO permission): one at most. It limits the research purposes only
# (``consent.fhir.donation``).
ANY_USE = ""
RESEARCH_KINDS: dict[str, Promise] = {
    ANY_USE: gettext_lazy("No further limit: any research for the research purposes I chose"),
    duo.GRU: gettext_lazy("General research (any research)"),
    duo.HMB: gettext_lazy("Health or medical research only"),
    duo.DS: gettext_lazy("Research on one disease only (name it below)"),
}
# The same in a summary of what was chosen.
KIND_SUMMARIES: dict[str, Promise] = {
    ANY_USE: gettext_lazy("Any research: no further limit"),
    duo.GRU: gettext_lazy("General research (any research)"),
    duo.HMB: gettext_lazy("Health or medical research only"),
    duo.DS: gettext_lazy("Research on one disease only"),
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
    wording = CONDITIONS.get(code) or (KIND_SUMMARIES.get(code) if code else None)
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
    # The kind of research, when research is among the purposes; ``research_limits_all`` when
    # it limits the other purposes too (a donation recorded before it was kept to research).
    research: str = ""
    research_limits_all: bool = False
    conditions: list[str] = field(default_factory=list)
    disease: str = ""
    period: str = ""
    # For a version that is not the current one: the day the next version replaced it.
    replaced_on: str = ""


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
    if version.status != "active" or version.version != version.record.current_version:
        return False
    started = version.period_start is None or version.period_start <= now
    return started and (version.period_end is None or now < version.period_end)


def _period(version: ConsentVersion, now: Any) -> str:
    start = _day(version.period_start)
    if version.period_end is None:
        if version.record.kind == ConsentRecord.Kind.OPT_OUT:
            return _("From %(start)s, until revoked.") % {"start": start}
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


def _headline(version: ConsentVersion, in_force: bool, replaced_on: str) -> str:
    if version.version != version.record.current_version:
        if replaced_on:
            return _("Replaced on %(day)s by the next version.") % {"day": replaced_on}
        return _("Replaced by a later version.")
    if version.record.kind == ConsentRecord.Kind.OPT_OUT:
        if in_force:
            return _("You opted out of the secondary use of your data.")
        return _("Opt-out revoked: it no longer applies.")
    if in_force:
        return _("You donate your data as described below.")
    if version.status == "inactive":
        return _("Donation withdrawn: your data may not be used.")
    if version.status == "active":
        return _("Donation not in force at present (outside its dates).")
    return _("Donation recorded with status “%(status)s”: it is not in force.") % {
        "status": version.status
    }


def summarise(
    version: ConsentVersion, names: Mapping[str, str], *, replaced_at: Any = None
) -> Summary:
    """``version`` in words; ``names`` gives node names by audience (:func:`node_names`);
    ``replaced_at``, for a version that is not the current one, when the next one was
    recorded."""
    now = timezone.now()
    in_force = _in_force(version, now)
    replaced_on = _day(replaced_at) if version.version != version.record.current_version else ""
    summary = Summary(
        kind=version.record.kind, status=version.status, in_force=in_force,
        headline=_headline(version, in_force, replaced_on), period=_period(version, now),
        replaced_on=replaced_on,
    )  # fmt: skip
    if summary.kind != ConsentRecord.Kind.DONATION:
        return summary
    summary.nodes = [names.get(a, a) for a in dict.fromkeys(version.node_ids)]
    summary.categories = [str(CATEGORIES.get(c, c)) for c in dict.fromkeys(version.categories)]
    choices = fhir.donation_choices(version.resource)
    if choices is None:
        _read_provisions(summary, version.resource)
        return summary
    summary.purposes = [purpose_label(p) for p in choices.purposes]
    kinds = [c for c in choices.duo_codes if c in fhir.DONOR_PERMISSIONS]
    if kinds or RESEARCH_PURPOSES & set(choices.purposes):
        summary.research = str(KIND_SUMMARIES.get(kinds[0] if kinds else ANY_USE))
        summary.research_limits_all = choices.limits_every_purpose
    summary.conditions = [duo_label(c) for c in choices.duo_codes if c not in kinds]
    summary.disease = choices.disease
    return summary


def _read_provisions(summary: Summary, resource: Mapping[str, Any]) -> None:
    """A donation of another shape than the portal's (written to the FHIR API): the EHDS
    purposes and DUO terms its permitting provisions name, and what its denying ones name, as
    "Never for …". Each level of provisions negates the one above; the root permits."""
    purposes: list[str] = []
    conditions: list[str] = []
    never: list[str] = []
    todo = [(p, False) for p in items(resource.get("provision"))]  # level 1 denies
    while todo:
        provision, permits = todo.pop(0)
        for coding in items(provision.get("purpose")):
            code, system = coding.get("code"), coding.get("system")
            if not isinstance(code, str) or system not in (EHDS_PURPOSE_SYSTEM, DUO_SYSTEM):
                continue
            words = purpose_label(code) if system == EHDS_PURPOSE_SYSTEM else None
            if permits and words is not None:
                purposes.append(words)
            elif permits:
                conditions.append(duo_label(duo.normalise_code(code)))
            else:
                never.append(words or _use_label(duo.normalise_code(code)))
        todo += [(p, not permits) for p in items(provision.get("provision"))]
    summary.purposes = list(dict.fromkeys(purposes))
    summary.conditions = list(dict.fromkeys(conditions))
    summary.conditions += [_("Never for: %(use)s") % {"use": use} for use in dict.fromkeys(never)]
    summary.disease = _disease(resource)


def _use_label(code: str) -> str:
    """A DUO term as a use ("population origins or ancestry research", not "… only")."""
    term = duo.BY_CODE.get(code)
    return term.label.removesuffix(" only") if term else code

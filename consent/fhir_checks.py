"""The checks behind ``consent.fhir.validate``: FHIR JSON rules, the JSON types of what
fhir.resources read, and the R5 rules and portal rules it leaves out (see ``consent.fhir``).
Pure: no models, no database."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fhir.resources import get_fhir_model_class
from fhir.resources.resource import Resource

from catalogue import duo
from catalogue.purposes import Purpose
from consent.terms import (
    CONSENT_ACTION,
    DECISIONS,
    DUO_SYSTEM,
    EHDS_PURPOSE_SYSTEM,
    FHIR_TYPES,
    KNOWN_ACTIONS,
    STATUSES,
    OutOfCalendar,
    bounded_range,
    instant_range,
)

XHTML = "http://www.w3.org/1999/xhtml"
MAX_DEPTH = 64

# ---------------------------------------------------------------------------------------------
# Issues


@dataclass(frozen=True)
class Issue:
    """One problem, as an OperationOutcome issue: where (a FHIRPath ``expression`` such as
    ``Consent.provision[0].purpose[1].code``), what (``message``), and its issue type."""

    expression: str
    message: str
    code: str = "invalid"
    severity: str = "error"


def operation_outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource reporting ``issues``."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": i.severity,
                "code": i.code,
                "diagnostics": i.message,
                **({"expression": [i.expression]} if i.expression else {}),
            }
            for i in issues
        ],
    }


def json_issues(resource: dict[str, Any]) -> list[Issue]:
    """FHIR JSON rules fhir.resources does not apply (it drops nulls and empty arrays)."""
    issues: list[Issue] = []
    todo: list[tuple[str, object, int, bool]] = [("Consent", resource, 0, False)]
    while todo:
        path, value, depth, null_allowed = todo.pop()
        if depth > MAX_DEPTH:
            return [Issue(path, f"The resource is nested deeper than {MAX_DEPTH} levels.")]
        if value is None:
            if not null_allowed:
                issues.append(Issue(path, "null is not allowed in FHIR JSON: leave it out."))
        elif isinstance(value, dict):
            if not value:
                issues.append(Issue(path, "An element must have a value or children (ele-1)."))
            for key, item in value.items():
                if not isinstance(key, str) or not key:
                    issues.append(Issue(path, "Every property has a name."))
                    continue
                # In the arrays of primitives and their extensions, null keeps positions.
                parallel = key.startswith("_") or f"_{key}" in value
                todo.append((f"{path}.{key}", item, depth + 1, parallel))
        elif isinstance(value, list):
            if not value:
                issues.append(Issue(path, "An array must not be empty: leave the element out."))
            for index, item in enumerate(value):
                todo.append((f"{path}[{index}]", item, depth + 1, null_allowed))
        elif isinstance(value, str):
            if not value.strip():
                issues.append(Issue(path, "A string must not be empty or only white space."))
            elif _CONTROL.search(value):
                issues.append(Issue(path, "A string must not contain control characters."))
        elif isinstance(value, float) and value != value:
            issues.append(Issue(path, "A number must be a number."))
    return sorted(issues, key=lambda i: i.expression)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def structure_issue(error: Any) -> Issue:
    parts = ["Consent"]
    for part in error.get("loc", ()):
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
        elif isinstance(part, str) and re.fullmatch(r"_?[A-Za-z][A-Za-z0-9_]*", part):
            name = part
            if name.endswith("__ext"):
                name = "_" + name.removesuffix("__ext")
            name = {"resource_type": "resourceType", "class_fhir": "class"}.get(name, name)
            parts.append(name)
    path = ".".join(parts)
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return Issue(path, f"{parts[-1]} is not an element of FHIR R5 here.", "structure")
    if "missing" in kind:
        return Issue(path, f"{parts[-1]} is required here.", "required")
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return Issue(path, message, "value" if kind == "value_error" else "structure")


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else "null"


def type_issues(given: object, parsed: object, path: str) -> list[Issue]:
    """Where fhir.resources converted a value it should have refused, the value's JSON type
    differs from the type it was read into."""
    if isinstance(given, dict) and isinstance(parsed, dict):
        issues = []
        for key, value in given.items():
            if key in parsed:
                issues += type_issues(value, parsed[key], f"{path}.{key}")
        return issues
    if isinstance(given, list) and isinstance(parsed, list) and len(given) == len(parsed):
        issues = []
        for index, (value, read) in enumerate(zip(given, parsed, strict=True)):
            issues += type_issues(value, read, f"{path}[{index}]")
        return issues
    if given is None or parsed is None:
        return []
    if _json_type(given) != _json_type(parsed):
        return [
            Issue(
                path,
                f"This element is a {_json_type(parsed)} in FHIR JSON, not a {_json_type(given)}.",
                "structure",
            )
        ]
    return []


def rule_issues(resource: dict[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    status = resource.get("status")
    if status is None:
        issues.append(Issue("Consent.status", "status is required (1..1).", "required"))
    elif status not in STATUSES:
        issues.append(
            Issue(
                "Consent.status",
                f"status {status!r} is not an R5 Consent status: {', '.join(sorted(STATUSES))}.",
                "code-invalid",
            )
        )
    decision = resource.get("decision")
    if decision is None:
        issues.append(
            Issue(
                "Consent.decision",
                "decision is required by the portal (permit or deny): a consent that says "
                "neither cannot be enforced.",
                "required",
            )
        )
    elif decision not in DECISIONS:
        issues.append(Issue("Consent.decision", "decision must be permit or deny.", "code-invalid"))
    issues += _subject_issues(resource)
    issues += _refused_elements(resource, "Consent")
    issues += _period_issues(resource, "Consent")
    issues += _time_issues(resource)
    for path, provision in _provisions_with_paths(resource):
        issues += _provision_issues(provision, path)
    issues += _contained_issues(resource)
    text = resource.get("text")
    if isinstance(text, dict) and isinstance(text.get("div"), str):
        issues += _narrative_issues(text["div"])
    return issues


def _subject_issues(resource: Mapping[str, Any]) -> list[Issue]:
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(reference, str) or not re.fullmatch(
        r"Patient/[A-Za-z0-9\-.]{1,64}", reference
    ):
        return [
            Issue(
                "Consent.subject",
                "subject must reference the person as Patient/<their pseudonym>.",
                "business-rule",
            )
        ]
    return []


def _refused_elements(value: object, path: str) -> list[Issue]:
    """Modifier extensions (anywhere) and implicit rules: the portal could not honour them."""
    issues: list[Issue] = []
    todo: list[tuple[str, object]] = [(path, value)]
    while todo:
        here, item = todo.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if key == "modifierExtension":
                    urls = ", ".join(str(e.get("url")) for e in child if isinstance(e, dict))
                    issues.append(
                        Issue(
                            f"{here}.modifierExtension",
                            f"The portal does not know the modifier extension {urls}, which "
                            "changes what the consent means: it cannot enforce it.",
                            "not-supported",
                        )
                    )
                elif key == "implicitRules" and here == path:
                    issues.append(
                        Issue(
                            f"{here}.implicitRules",
                            "The portal does not apply implicit rules: state the consent's "
                            "rules in the resource.",
                            "not-supported",
                        )
                    )
                else:
                    todo.append((f"{here}.{key}", child))
        elif isinstance(item, list):
            todo += [(f"{here}[{i}]", child) for i, child in enumerate(item)]
    return sorted(issues, key=lambda i: i.expression)


def _period_issues(value: object, path: str) -> list[Issue]:
    """Every period (``period``, ``dataPeriod``) starts no later than it ends (per-1)."""
    issues: list[Issue] = []
    todo: list[tuple[str, object]] = [(path, value)]
    while todo:
        here, item = todo.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if key in {"period", "dataPeriod"} and isinstance(child, dict):
                    issues += _one_period(child, f"{here}.{key}")
                todo.append((f"{here}.{key}", child))
        elif isinstance(item, list):
            todo += [(f"{here}[{i}]", child) for i, child in enumerate(item)]
    return sorted(issues, key=lambda i: i.expression)


def _one_period(period: Mapping[str, Any], path: str) -> list[Issue]:
    start, end = period.get("start"), period.get("end")
    if not (isinstance(start, str) and isinstance(end, str)):
        return []
    try:
        if instant_range(start)[0] >= instant_range(end)[1]:
            return [Issue(path, "The period must not end before it starts (per-1).", "invariant")]
    except ValueError:
        return []
    return []


def _time_issues(resource: Mapping[str, Any]) -> list[Issue]:
    """The times the portal reads (``date``, the periods of the consent and its provisions)
    lie a day inside the calendar's ends (``consent.terms.EARLIEST`` to ``LATEST``): FHIR
    allows "9999-12-31", but the portal could neither store the first instant after it nor
    show it in every time zone."""
    values: list[tuple[str, object]] = [("Consent.date", resource.get("date"))]
    periods = [("Consent.period", resource.get("period"))]
    periods += [(f"{p}.period", v.get("period")) for p, v in _provisions_with_paths(resource)]
    for path, period in periods:
        if isinstance(period, Mapping):
            values += [(f"{path}.{side}", period.get(side)) for side in ("start", "end")]
    issues = []
    for path, value in values:
        if not isinstance(value, str):
            continue
        try:
            bounded_range(value)
        except OutOfCalendar:
            issues.append(
                Issue(
                    path,
                    f"{value!r} is too near the ends of the calendar for the portal: give a "
                    "time from 0001-01-02 to 9999-12-30 (UTC).",
                    "value",
                )
            )
        except ValueError:
            continue  # not a FHIR time: the structure check says so
    return issues


def _provisions_with_paths(
    resource: Mapping[str, Any],
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    todo = [(f"Consent.provision[{i}]", p) for i, p in enumerate(resource.get("provision") or [])]
    while todo:
        path, provision = todo.pop(0)
        if isinstance(provision, dict):
            yield path, provision
            todo += [
                (f"{path}.provision[{i}]", p)
                for i, p in enumerate(provision.get("provision") or [])
            ]


def _provision_issues(provision: Mapping[str, Any], path: str) -> list[Issue]:
    issues: list[Issue] = []
    for index, coding in enumerate(provision.get("purpose") or []):
        where = f"{path}.purpose[{index}].code"
        system, code = coding.get("system"), coding.get("code")
        if system == EHDS_PURPOSE_SYSTEM and code not in Purpose.values:
            issues.append(
                Issue(
                    where,
                    f"{code!r} is not an EHDS Art 53(1) purpose: {', '.join(Purpose.values)}.",
                    "code-invalid",
                )
            )
        elif system == DUO_SYSTEM:
            term = duo.normalise_code(str(code or ""))
            if term not in duo.BY_CODE:
                issues.append(
                    Issue(
                        where,
                        f"{code!r} is not a DUO data-use term the portal knows (a CURIE such "
                        "as DUO:0000042).",
                        "code-invalid",
                    )
                )
    for index, coding in enumerate(provision.get("resourceType") or []):
        code = coding.get("code")
        if coding.get("system") in (None, FHIR_TYPES) and not _is_resource_type(code):
            issues.append(
                Issue(
                    f"{path}.resourceType[{index}].code",
                    f"{code!r} is not a FHIR R5 resource type.",
                    "code-invalid",
                )
            )
    for index, concept in enumerate(provision.get("action") or []):
        for number, coding in enumerate(concept.get("coding") or []):
            if coding.get("system") == CONSENT_ACTION and coding.get("code") not in KNOWN_ACTIONS:
                issues.append(
                    Issue(
                        f"{path}.action[{index}].coding[{number}].code",
                        f"{coding.get('code')!r} is not a consent action: "
                        f"{', '.join(sorted(KNOWN_ACTIONS))}.",
                        "code-invalid",
                    )
                )
    return issues


def _is_resource_type(code: object) -> bool:
    if not isinstance(code, str) or not re.fullmatch(r"[A-Z][A-Za-z]{1,63}", code):
        return False
    try:
        model = get_fhir_model_class(code)
    except (KeyError, ValueError, AttributeError, ImportError):
        return False
    return isinstance(model, type) and issubclass(model, Resource)


def _references(value: object) -> Iterator[str]:
    todo: list[object] = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            reference = item.get("reference")
            if isinstance(reference, str):
                yield reference
            todo += [v for k, v in item.items() if k != "contained"]
        elif isinstance(item, list):
            todo += item


def _contained_issues(resource: Mapping[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    contained = resource.get("contained") or []
    ids = set()
    for index, item in enumerate(contained):
        path = f"Consent.contained[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
            issues.append(Issue(path, "A contained resource states its resourceType.", "structure"))
            continue
        if "contained" in item:
            issues.append(
                Issue(
                    f"{path}.contained", "Contained resources nest no others (dom-2).", "invariant"
                )
            )
        meta = item.get("meta") or {}
        if "versionId" in meta or "lastUpdated" in meta:
            issues.append(
                Issue(
                    f"{path}.meta",
                    "A contained resource has no version or update time of its own (dom-4).",
                    "invariant",
                )
            )
        if isinstance(item.get("id"), str):
            ids.add(item["id"])
    references = set(_references({k: v for k, v in resource.items() if k != "contained"}))
    references |= {r for item in contained for r in _references(item)}
    for index, item in enumerate(contained):
        if isinstance(item, dict) and f"#{item.get('id')}" not in references:
            issues.append(
                Issue(
                    f"Consent.contained[{index}]",
                    "A contained resource must be referenced from the resource (dom-3).",
                    "invariant",
                )
            )
    for reference in sorted(references):
        if reference.startswith("#") and reference != "#" and reference[1:] not in ids:
            issues.append(
                Issue(
                    "Consent",
                    f"The reference {reference} names no contained resource.",
                    "invalid",
                )
            )
    return issues


# Narrative: the XHTML FHIR allows (txt-1), without scripts, forms, styles or event handlers.
_NARRATIVE_ELEMENTS = frozenset({
    "a", "abbr", "acronym", "b", "big", "blockquote", "br", "caption", "cite", "code", "col",
    "colgroup", "dd", "dfn", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "img", "li", "ol", "p", "pre", "q", "samp", "small", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "ul", "var",
})  # fmt: skip
_NARRATIVE_ATTRIBUTES = frozenset({
    "abbr", "accesskey", "align", "alt", "axis", "bgcolor", "border", "cellhalign", "cellpadding",
    "cellspacing", "cellvalign", "char", "charoff", "charset", "cite", "class", "colspan",
    "compact", "coords", "dir", "frame", "headers", "height", "href", "hreflang", "hspace", "id",
    "lang", "longdesc", "name", "nowrap", "rel", "rev", "rowspan", "rules", "scope", "shape",
    "span", "src", "start", "style", "summary", "tabindex", "title", "type", "valign", "value",
    "vspace", "width",
})  # fmt: skip


def _narrative_issues(div: str) -> list[Issue]:
    where = "Consent.text.div"
    if "<!DOCTYPE" in div or "<!ENTITY" in div:
        return [Issue(where, "The narrative may not declare a document type.", "invariant")]
    try:
        root = ET.fromstring(div)  # noqa: S314 (no DTD: entities were refused above)
    except ET.ParseError as exc:
        return [Issue(where, f"The narrative is not well-formed XHTML: {exc}.", "invariant")]
    if root.tag != f"{{{XHTML}}}div":
        return [
            Issue(where, f'The narrative is a <div xmlns="{XHTML}"> element (txt-1).', "invariant")
        ]
    if not ("".join(root.itertext()).strip() or root.find(f".//{{{XHTML}}}img") is not None):
        return [Issue(where, "The narrative must not be empty (txt-2).", "invariant")]
    for element in root.iter():
        name = element.tag.removeprefix(f"{{{XHTML}}}")
        if name not in _NARRATIVE_ELEMENTS:
            return [Issue(where, f"The narrative may not contain <{name}> (txt-1).", "invariant")]
        for attribute, value in element.attrib.items():
            if attribute not in _NARRATIVE_ATTRIBUTES:
                return [
                    Issue(where, f"The narrative may not use the attribute {attribute} (txt-1).",
                          "invariant")
                ]  # fmt: skip
            if attribute in {"href", "src"} and re.match(r"\s*(javascript|data|vbscript):",
                                                         value, re.I):  # fmt: skip
                return [Issue(where, f"The narrative may not link to {value[:20]}…", "invariant")]
    return []

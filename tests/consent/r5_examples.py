"""Consent resources written to the FHIR R5 specification by others, after the scenarios of the
specification's own example list (hl7.org/fhir/R5/consent-examples.html): an opt-out, a
withheld record, a time-limited exclusion, access granted to a representative, and a research
consent with nested provisions. Written by hand for these tests; each uses elements the portal
does not write itself (narrative, tags, attachments, verification, contained resources,
extensions), which must survive a round trip unchanged."""

import copy

NARRATIVE = (
    '<div xmlns="http://www.w3.org/1999/xhtml"><p>Patient <b>P. van de Heuvel</b> '
    "withholds consent.</p></div>"
)
TAG = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
    "code": "HTEST",
    "display": "test health data",
}
LOINC_CONSENT = {"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}
CUSTODIAN = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "CST"}
    ]
}
RECIPIENT = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "PRCP"}
    ]
}


def _action(code):
    return {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": code}]
    }


OPT_OUT = {
    "resourceType": "Consent",
    "id": "consent-example-Out",
    "meta": {"tag": [TAG]},
    "text": {"status": "generated", "div": NARRATIVE},
    "status": "active",
    "category": [LOINC_CONSENT],
    "subject": {"reference": "Patient/f001", "display": "P. van de Heuvel"},
    "date": "2015-11-18",
    "controller": [{"reference": "Organization/f001"}],
    "sourceAttachment": [{"title": "The terms of the consent in lawyer speak."}],
    "regulatoryBasis": [
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "INFA"}]}
    ],
    "decision": "deny",
}

NOT_THIS = {
    "resourceType": "Consent",
    "id": "consent-example-notThis",
    "meta": {"tag": [TAG]},
    "text": {"status": "generated", "div": NARRATIVE},
    "status": "active",
    "category": [LOINC_CONSENT],
    "subject": {"reference": "Patient/f001", "display": "P. van de Heuvel"},
    "date": "2015-11-18",
    "controller": [{"reference": "Organization/f001"}],
    "sourceAttachment": [{"title": "The terms of the consent in lawyer speak."}],
    "regulatoryBasis": [
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "INFA"}]}
    ],
    "decision": "permit",
    "provision": [{"data": [{"meaning": "related", "reference": {"reference": "Task/example3"}}]}],
}

NOT_TIME = {
    "resourceType": "Consent",
    "id": "consent-example-notTime",
    "meta": {"tag": [TAG]},
    "status": "active",
    "category": [LOINC_CONSENT],
    "subject": {"reference": "Patient/f001", "display": "P. van de Heuvel"},
    "date": "2015-11-18",
    "controller": [{"reference": "Organization/f001"}],
    "sourceAttachment": [{"title": "The terms of the consent in lawyer speak."}],
    "decision": "permit",
    "provision": [{"dataPeriod": {"start": "2015-01-01", "end": "2015-06-30"}}],
}

GRANTOR = {
    "resourceType": "Consent",
    "id": "consent-example-grantor",
    "meta": {"tag": [TAG]},
    "status": "active",
    "category": [
        {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "INFAO"}
            ]
        }
    ],
    "subject": {"reference": "Patient/f001", "display": "P. van de Heuvel"},
    "date": "2015-11-18",
    "grantor": [{"reference": "#rep"}],
    "grantee": [{"reference": "Organization/f001", "display": "Good Health Clinic"}],
    "contained": [
        {
            "resourceType": "RelatedPerson",
            "id": "rep",
            "patient": {"reference": "Patient/f001"},
            "name": [{"family": "van de Heuvel", "given": ["M."]}],
        }
    ],
    "verification": [
        {
            "verified": True,
            "verifiedWith": {"reference": "Patient/f001"},
            "verificationDate": ["2015-11-18"],
        }
    ],
    "decision": "deny",
    "provision": [
        {
            "actor": [
                {"role": CUSTODIAN, "reference": {"reference": "Organization/f001"}},
                {"role": RECIPIENT, "reference": {"reference": "#rep"}},
            ],
            "action": [_action("access")],
        }
    ],
}

RESEARCH = {
    "resourceType": "Consent",
    "id": "consent-example-research",
    "meta": {"tag": [TAG], "profile": ["http://example.org/fhir/StructureDefinition/research"]},
    "extension": [
        {"url": "http://example.org/fhir/StructureDefinition/study", "valueString": "ONCO-7"}
    ],
    "identifier": [{"system": "http://example.org/consents", "value": "R-2023-118"}],
    "status": "active",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentcategorycodes",
                    "code": "research",
                }
            ]
        }
    ],
    "subject": {"reference": "Patient/f001"},
    "date": "2023-02-01",
    "period": {"start": "2023-02-01", "end": "2033-01-31"},
    "policyBasis": {"url": "http://example.org/policies/oncology-research"},
    "policyText": [{"reference": "DocumentReference/policy-text"}],
    "decision": "deny",
    "provision": [
        {
            "period": {"start": "2023-02-01", "end": "2033-01-31"},
            "action": [_action("access"), _action("use")],
            "purpose": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                    "code": "HRESCH",
                    "display": "healthcare research",
                }
            ],
            "resourceType": [{"system": "http://hl7.org/fhir/fhir-types", "code": "ImagingStudy"}],
            "provision": [
                {
                    "purpose": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                            "code": "HMARKT",
                        }
                    ],
                    "extension": [
                        {
                            "url": "http://example.org/fhir/StructureDefinition/note",
                            "valueString": "x",
                        }
                    ],
                },
                {
                    "securityLabel": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                            "code": "R",
                        }
                    ]
                },
            ],
        }
    ],
}

EXAMPLES = {
    "opt-out": OPT_OUT,
    "not-this": NOT_THIS,
    "not-time": NOT_TIME,
    "grantor": GRANTOR,
    "research": RESEARCH,
}


def example(name: str, *, patient: str | None = None) -> dict:
    """A fresh copy of an example, its subject (and the contained representative's patient)
    being ``Patient/<patient>`` when given."""
    resource = copy.deepcopy(EXAMPLES[name])
    if patient is not None:
        resource["subject"] = {**resource["subject"], "reference": f"Patient/{patient}"}
        for item in resource.get("contained", []):
            if "patient" in item:
                item["patient"] = {"reference": f"Patient/{patient}"}
    return resource

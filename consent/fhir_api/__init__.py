"""The FHIR R5 REST API for Consent, under ``/fhir/`` (docs/consent.md, "FHIR API").

``common`` (content negotiation, errors as OperationOutcome, the session and CSRF checks, the
request body), ``search`` (search parameters and paging), ``capability`` (the
CapabilityStatement), ``views`` (the interactions) and ``urls``.
"""

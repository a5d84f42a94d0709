"""Consents, donor links and link codes are not in the Django admin, on purpose.

A consent, and which account linked which pseudonym at a node, are personal data whose every
read by the access body belongs in the audit chain; the admin's pages would show them without
a trace. The access body reads consents through the FHIR API (an audited read), and every
change goes through ``consent.services``, never through a form that saves rows: a consent
version is immutable and PostgreSQL refuses to change one.
"""

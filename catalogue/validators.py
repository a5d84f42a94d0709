"""The one rule for the web and email addresses the catalogue publishes.

Node and dataset addresses become IRIs in the HealthDCAT-AP export: a licence is a
``dct:license`` IRI, a node's DICOMweb base URL a ``dcat:accessURL``, a contact email the
``mailto:`` IRI of ``vcard:hasEmail``. An address that is not a valid IRI makes the Turtle
serialiser fail (RDF 1.1 Turtle's IRIREF refuses ``<>"{}|^`\\``, spaces and control
characters), so every write path refuses such addresses, through these validators:

- the model fields carry them (``validate_public_url_field``, ``validate_public_email_field``),
  so ``full_clean`` (which the services call before every save), the catalogue's forms and DRF
  model serializers all apply them; ``validate_public_url`` checks a bare value (legislation
  IRIs);
- the DCAT exporter checks every IRI it writes with :func:`iri_problem` and leaves out a dataset
  stored behind the validators' back.

Keep the rule here and nowhere else.
"""

import re
import unicodedata
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils.translation import gettext_lazy as _

# ASCII characters an IRI may not contain anywhere (RFC 3987 section 2.2; Turtle's IRIREF
# refuses the same ones). Square brackets are allowed only around an IPv6 host.
FORBIDDEN_IN_IRI = frozenset('<>"{}|\\^` ')
_BRACKETS = frozenset("[]")
# Unicode categories an IRI may not contain: controls, format characters (bidirectional marks,
# zero-width characters), separators, surrogates, private use and unassigned code points.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# What most IRIs are, checked in one step: ASCII unreserved and reserved characters (no
# brackets) and percent-encoded bytes after a scheme.
_PLAIN_ASCII_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]*")
_IPV6_NETLOC = re.compile(r"(?:[^@\[\]]*@)?\[[0-9A-Fa-f:.]+\](?::[0-9]*)?")
# The characters a mailto: IRI carries in an address's local part without percent-encoding
# (RFC 6068: unreserved and the allowed sub-delimiters, as far as RFC 5322's atext has them).
_MAILTO_LOCAL_PART = re.compile(r"[A-Za-z0-9!$'*+\-_.~]+")

_url_syntax = URLValidator(schemes=["http", "https"])
_email_syntax = EmailValidator()


def _describe(char: str) -> str:
    if char == " ":
        return str(_("a space"))
    if char.isprintable():
        return f"“{char}”"
    return f"U+{ord(char):04X}"


def _bad_character(text: str) -> str | None:
    for char in text:
        if char in FORBIDDEN_IN_IRI or unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            return _describe(char)
    return None


def _brackets_outside_ipv6_host(value: str) -> bool:
    if not _BRACKETS & set(value):
        return False
    try:
        netloc = urlsplit(value).netloc
    except ValueError:
        return True
    outside = value.replace(netloc, "", 1) if netloc else value
    return bool(_BRACKETS & set(outside)) or (
        bool(_BRACKETS & set(netloc)) and not _IPV6_NETLOC.fullmatch(netloc)
    )


def iri_problem(value: str) -> str | None:
    """Why ``value`` is not an absolute IRI that RDF serialisations can carry, or None.

    The rule: a scheme; no character that RFC 3987 excludes from IRIs (``<>"{}|\\^`` and the
    backquote, spaces, controls, invisible formatting characters); square brackets only around
    an IPv6 host; ``%`` only as the start of a percent-encoded byte.
    """
    if _PLAIN_ASCII_IRI.fullmatch(value) and not _BAD_PERCENT.search(value):
        return None
    if not _SCHEME.match(value):
        return str(_("it is not an absolute address (it has no scheme such as https:)"))
    bad = _bad_character(value)
    if bad:
        return str(_("it contains %(character)s, which an address may not contain")) % {
            "character": bad
        }
    if _brackets_outside_ipv6_host(value):
        return str(_("it contains square brackets outside an IPv6 host"))
    if _BAD_PERCENT.search(value):
        return str(_("it contains a % that does not start a percent-encoded byte (%XX)"))
    return None


def validate_public_url(value: str) -> None:
    """Refuse a web address the catalogue could not publish as an IRI.

    Accepted: an absolute ``http`` or ``https`` URL (Django's URL syntax check) without user
    name or password (the catalogue is public) that passes :func:`iri_problem`.
    """
    _url_syntax(value)
    problem = iri_problem(value)
    if problem:
        raise ValidationError(
            _("Enter a web address that can be published: %(problem)s."),
            code="invalid_iri",
            params={"problem": problem},
        )
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            _("Enter a web address without a user name or password: it is published."),
            code="credentials_in_url",
        )


def validate_public_email(value: str) -> None:
    """Refuse an email address the catalogue could not publish as a ``mailto:`` IRI.

    Accepted: an address Django's email check accepts, whose local part uses only letters,
    digits and ``.!$'*+-_~`` (no quoted local parts, nothing that a mailto: IRI would have to
    percent-encode), at a domain name (not an address literal such as ``[192.0.2.1]``).
    """
    _email_syntax(value)
    local_part, _at, domain = value.rpartition("@")
    if not _MAILTO_LOCAL_PART.fullmatch(local_part):
        raise ValidationError(
            _(
                "Enter an email address whose part before the @ uses only letters, digits "
                "and . ! $ ' * + - _ ~ (it is published as a mailto: address)."
            ),
            code="invalid_mailto",
        )
    if domain.startswith("[") or iri_problem(f"mailto:{value}"):
        raise ValidationError(
            _("Enter an email address at a domain name (it is published as a mailto: address)."),
            code="invalid_mailto",
        )


# As field validators. A URLField or EmailField checks the syntax itself (more loosely: it also
# allows ftp); these add the rest of the rule and say nothing about a value that check refuses,
# so that every problem is named once.
_field_url_syntax = URLValidator()
_field_email_syntax = EmailValidator()


def validate_public_url_field(value: str) -> None:
    """:func:`validate_public_url` for a URLField, which reports bad URL syntax itself."""
    try:
        _field_url_syntax(value)
    except ValidationError:
        return
    validate_public_url(value)


def validate_public_email_field(value: str) -> None:
    """:func:`validate_public_email` for an EmailField, which reports bad syntax itself."""
    try:
        _field_email_syntax(value)
    except ValidationError:
        return
    validate_public_email(value)

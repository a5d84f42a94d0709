"""Why a node refuses a request: one code per rule, each mapped to its RFC 6750 answer.

Every refusal by the verifier or the gatekeeper carries exactly one of these codes, in the
``WWW-Authenticate`` header's ``error_description`` and in the access reports sent back to the
portal, so an operator and the access body read the same reason.
"""

from enum import StrEnum


class Reason(StrEnum):
    """A refusal's reason code."""

    MISSING_TOKEN = "missing_token"  # noqa: S105 (a reason code)
    MALFORMED = "malformed"
    OVERSIZED = "oversized"
    BAD_ALGORITHM = "bad_algorithm"
    # A header parameter a portal token never carries: jku, x5u, jwk, x5c, crit, b64...
    BAD_HEADER = "bad_header"
    UNKNOWN_KEY = "unknown_key"
    KEYS_UNAVAILABLE = "keys_unavailable"  # the portal's JWKS was never fetched
    BAD_SIGNATURE = "bad_signature"
    BAD_TYPE = "bad_type"
    BAD_ISSUER = "bad_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    BAD_CLAIMS = "bad_claims"
    # The gatekeeper holds no unexpired study map from the portal: it serves no study.
    STUDY_MAP_UNAVAILABLE = "study_map_unavailable"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    STATUS_UNAVAILABLE = "status_unavailable"
    # The token's status entry points outside the issuer, or beyond the end of its list.
    UNTRUSTED_STATUS_LIST = "untrusted_status_list"
    STATUS_OUT_OF_RANGE = "status_out_of_range"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    STUDY_NOT_PERMITTED = "study_not_permitted"
    # The study's subject is on the consent exclusion list for the token's permit: they
    # withdrew, opted out, or did not donate for this use.
    SUBJECT_EXCLUDED = "subject_excluded"
    # The gatekeeper holds no exclusion list fresh within its ttl: it serves no study.
    EXCLUSIONS_UNAVAILABLE = "exclusions_unavailable"
    # The exclusion list, fetched again, does not know the token's permit: the node cannot
    # tell whose consent allows its use, so it serves nothing under it.
    PERMIT_NOT_IN_EXCLUSIONS = "permit_not_in_exclusions"
    # An unexpected failure inside the verifier: it refuses (fails closed) and logs it.
    VERIFIER_ERROR = "verifier_error"


# RFC 6750 section 3.1: a token that cannot be used at all is 401 invalid_token; a valid token
# that does not cover the request is 403 insufficient_scope. A missing token is 401 with no
# error code (section 3.1: the client did not know it needed one).
_FORBIDDEN = {
    Reason.INSUFFICIENT_SCOPE,
    Reason.STUDY_NOT_PERMITTED,
    Reason.SUBJECT_EXCLUDED,
}


def http_answer(reason: Reason) -> tuple[int, str]:
    """The HTTP status and RFC 6750 ``error`` for ``reason`` (``""`` for a missing token)."""
    if reason is Reason.MISSING_TOKEN:
        return 401, ""
    if reason in _FORBIDDEN:
        return 403, "insufficient_scope"
    return 401, "invalid_token"


def www_authenticate(reason: Reason, *, realm: str = "dicomweb") -> str:
    """The ``WWW-Authenticate`` header value of a refusal (RFC 6750 section 3)."""
    _status, error = http_answer(reason)
    if not error:
        return f'Bearer realm="{realm}"'
    return f'Bearer realm="{realm}", error="{error}", error_description="{reason.value}"'

"""The access token a node accepts: a JWT access token (RFC 9068) issued by the portal.

Header: ``typ`` is ``at+jwt``; ``alg`` is ES256 (default) or Ed25519 (RFC 9864), never
``none`` and never an HMAC algorithm; ``kid`` names a key of the portal's JWKS.

Claims (RFC 7519, RFC 9068 and the portal's own):

========== ==================================================================================
``iss``    the portal's issuer URL
``sub``    the researcher's pseudonym (never a name or an email)
``aud``    the node's audience identifier (one node per token)
``iat``    issued at; ``nbf`` not before; ``exp`` expiry, at most ``MAX_LIFETIME`` later
``jti``    the token's unique id
``client_id`` the client the token was issued to (RFC 9068)
``permit`` the data permit's number
``purpose`` the permit's EHDS Art 53(1) purpose code
``scope``  space-separated scopes; ``SCOPE_READ`` lets the holder read images
``datasets`` identifiers of the datasets at that node the permit grants
``status`` ``{"status_list": {"idx": int, "uri": str}}``, its entry in a Token Status List
``permit_iat`` when the permit was approved (seconds since the epoch): an opt-out applies only
           to permits approved at or after it (EHDS Art 71(3)), which the node reads from this
           with the consent exclusion list. Optional for the shape; a token without it is read
           as under a permit approved now (every opt-out applies: the strict reading).
========== ==================================================================================
"""

from collections.abc import Mapping
from dataclasses import dataclass

TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, not a secret)
# The only algorithms a node accepts; joserfc needs them listed explicitly.
ALGORITHMS = ("ES256", "Ed25519")
MAX_LIFETIME = 3600  # seconds: tokens are short-lived
SCOPE_READ = "dicomweb.read"
REQUIRED = (
    "iss", "sub", "aud", "iat", "nbf", "exp", "jti", "client_id",
    "permit", "purpose", "scope", "datasets", "status",
)  # fmt: skip
_REQUIRED = frozenset(REQUIRED)
_TEXTS = ("iss", "sub", "jti", "client_id", "permit", "purpose", "scope")


class InvalidClaims(ValueError):
    """The claims set is not an access token's: a claim is missing or of the wrong kind."""


def _text(claims: Mapping[str, object], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidClaims(f"{name} must be a non-empty string")
    return value


def _time(claims: Mapping[str, object], name: str) -> int:
    value = claims.get(name)
    # bool is an int in Python; a JSON true is not a time.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidClaims(f"{name} must be a non-negative integer (seconds since the epoch)")
    return value


@dataclass(frozen=True)
class AccessClaims:
    """The claims of an access token, checked for shape (not for trust: the verifier does)."""

    iss: str
    sub: str
    aud: str
    iat: int
    nbf: int
    exp: int
    jti: str
    client_id: str
    permit: str
    purpose: str
    scope: str
    datasets: tuple[str, ...]
    status_idx: int
    status_uri: str
    permit_iat: int | None = None

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    def to_claims(self) -> dict[str, object]:
        """The JSON claims set, as the portal signs it."""
        return {
            "iss": self.iss,
            "sub": self.sub,
            "aud": self.aud,
            "iat": self.iat,
            "nbf": self.nbf,
            "exp": self.exp,
            "jti": self.jti,
            "client_id": self.client_id,
            "permit": self.permit,
            "purpose": self.purpose,
            "scope": self.scope,
            "datasets": list(self.datasets),
            "status": {"status_list": {"idx": self.status_idx, "uri": self.status_uri}},
            **({} if self.permit_iat is None else {"permit_iat": self.permit_iat}),
        }

    @classmethod
    def from_claims(cls, claims: object) -> "AccessClaims":
        """Read a claims set; raises :class:`InvalidClaims` naming the first bad claim.

        Every token a node sees passes here, so the common case is checked in one pass, and
        the messages are worked out only when something is wrong."""
        if not isinstance(claims, dict):
            raise InvalidClaims("the claims set must be a JSON object")
        if not claims.keys() >= _REQUIRED:
            missing = [name for name in REQUIRED if name not in claims]
            raise InvalidClaims("missing claims: " + ", ".join(missing))
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) == 1:
            aud = aud[0]  # RFC 7519 allows a one-element array
        datasets = claims["datasets"]
        if not isinstance(datasets, list) or not all(isinstance(d, str) and d for d in datasets):
            raise InvalidClaims("datasets must be a list of dataset identifiers")
        status = claims["status"]
        entry = status.get("status_list") if isinstance(status, dict) else None
        if not isinstance(entry, dict):
            raise InvalidClaims("status must hold a status_list entry")
        idx = entry.get("idx")
        if type(idx) is not int or idx < 0:  # bool is an int in Python; a JSON true is not
            raise InvalidClaims("status.status_list.idx must be a non-negative integer")
        iat, nbf, exp = claims["iat"], claims["nbf"], claims["exp"]
        if not (type(iat) is int and type(nbf) is int and type(exp) is int and 0 <= iat <= exp):
            iat, nbf, exp = _time(claims, "iat"), _time(claims, "nbf"), _time(claims, "exp")
        if not iat <= exp or not 0 <= nbf <= exp:
            _time(claims, "nbf")
            raise InvalidClaims("exp must not come before iat or nbf")
        permit_iat = _time(claims, "permit_iat") if "permit_iat" in claims else None
        texts = [claims[name] for name in _TEXTS]
        uri = entry.get("uri")
        texts.append(aud)
        texts.append(uri)
        if not all(type(value) is str and value for value in texts):
            for name in _TEXTS:
                _text(claims, name)
            _text({"aud": aud}, "aud")
            _text(entry, "uri")
        iss, sub, jti, client_id, permit, purpose, scope = texts[:7]
        # Every field is checked above: set them at once, without the frozen dataclass's
        # __init__ (one guarded assignment per field, a large part of reading a token).
        claims_object = object.__new__(cls)
        claims_object.__dict__.update(
            iss=iss,
            sub=sub,
            aud=aud,
            iat=iat,
            nbf=nbf,
            exp=exp,
            jti=jti,
            client_id=client_id,
            permit=permit,
            purpose=purpose,
            scope=scope,
            datasets=tuple(datasets),
            status_idx=idx,
            status_uri=uri,
            permit_iat=permit_iat,
        )
        return claims_object

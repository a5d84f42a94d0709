"""A stand-in portal for the node's tests: real keys (cryptography), real wire formats (the
JWKS, Token Status Lists, access tokens as ``access.node.claims`` defines them), signed through
joserfc; and, for the attacks joserfc would refuse to sign, tokens crafted by hand (base64url
and JSON) and signed with the same keys by cryptography itself.

It answers the verifier's fetches from memory, counts them, and can go down.
"""

import base64
import contextlib
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey

from access.node.claims import ALGORITHMS, SCOPE_READ, TOKEN_TYPE, AccessClaims
from access.node.fetch import FetchError
from access.node.statuslist import LIST_TYPE, StatusList, list_claims
from access.node.studies import StudyEntry, StudyMap
from access.node.verifier import Verifier

ISSUER = "https://portal.example.org"
AUDIENCE = "urn:ecii:node:oslo"
OTHER_NODE = "urn:ecii:node:madrid"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"
LIST_URI = f"{ISSUER}/access/status-lists/1"
NOW = 1_800_000_000.0
DATASET = "6f0c6c1e-0000-4000-8000-000000000001"
OTHER_DATASET = "6f0c6c1e-0000-4000-8000-000000000002"
STUDY = "1.2.826.0.1.3680043.8.498.1"
OTHER_STUDY = "1.2.826.0.1.3680043.8.498.2"

# Generated once per test run: key generation is the slow part.
ES_PRIVATE = ec.generate_private_key(ec.SECP256R1())
ED_PRIVATE = ed25519.Ed25519PrivateKey.generate()
ES_KID, ED_KID = "es-2027-1", "ed-2027-1"


def b64(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def raw_sign(private, signing_input: bytes) -> bytes:
    """A JWS signature by hand: raw r||s (RFC 7518 3.4) for ECDSA, plain for Ed25519."""
    if isinstance(private, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return private.sign(signing_input)


def craft(header, payload, *, private=ES_PRIVATE, signature: bytes | None = None) -> str:
    """A compact JWS built by hand. ``header`` and ``payload`` are dicts, or JSON text taken
    as it is (duplicate members and all); signed with ``private`` unless ``signature`` is
    given."""
    header_text = header if isinstance(header, (str, bytes)) else json.dumps(header)
    payload_text = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    signing_input = f"{b64(header_text)}.{b64(payload_text)}"
    if signature is None:
        signature = raw_sign(private, signing_input.encode("ascii"))
    return f"{signing_input}.{b64(signature)}"


class Clock:
    """The verifier's clock, moved by the test."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class StandInPortal:
    """Serves the JWKS and a status list at the portal's URLs, as the verifier's fetcher."""

    def __init__(self, clock: Clock, *, ttl: int = 60, issuer: str = ISSUER) -> None:
        self.clock = clock
        self.ttl = ttl
        self.issuer = issuer
        self.jwks_url = f"{issuer}/.well-known/jwks.json"
        self.list_uri = f"{issuer}/access/status-lists/1"
        self.keys = {
            ES_KID: ECKey.import_key(ES_PRIVATE, {"kid": ES_KID}),
            ED_KID: OKPKey.import_key(ED_PRIVATE, {"kid": ED_KID}),
        }
        self.published = [ES_KID, ED_KID]
        self.status = StatusList(bits=2)
        self.status.set(1023, 0)  # room for 1,024 tokens
        self.next_idx = 0
        self.list_lifetime: int | None = None  # the list's exp - iat; 2 * ttl by default
        self.documents: dict[str, bytes] = {}  # what a URL answers instead
        self.failing: set[str] = set()  # URLs that cannot be fetched
        self.fetched: list[str] = []
        self.down = False

    # The fetcher the verifier calls

    def __call__(self, url: str, *, accept: str) -> bytes:
        self.fetched.append(url)
        if self.down or url in self.failing:
            raise FetchError(f"{url} could not be fetched: connection refused")
        if url in self.documents:
            return self.documents[url]
        if url == self.jwks_url:
            return self.jwks()
        if url == self.list_uri:
            return self.status_list_token().encode()
        raise FetchError(f"{url} answered 404")

    def fetches(self, url: str) -> int:
        return self.fetched.count(url)

    def verifier(self, **options) -> Verifier:
        return Verifier(
            issuer=self.issuer,
            audience=AUDIENCE,
            jwks_url=self.jwks_url,
            fetcher=self,
            clock=self.clock,
            **options,
        )

    # Published documents

    def publish(self, kid: str, private) -> None:
        """Add a key to the JWKS (a rotation's next key)."""
        key_type = ECKey if isinstance(private, ec.EllipticCurvePrivateKey) else OKPKey
        self.keys[kid] = key_type.import_key(private, {"kid": kid})
        self.published.append(kid)

    def jwks(self) -> bytes:
        keys = []
        for kid in self.published:
            public = self.keys[kid].as_dict(private=False)
            alg = "ES256" if public["kty"] == "EC" else "Ed25519"
            keys.append({**public, "kid": kid, "alg": alg, "use": "sig"})
        return json.dumps({"keys": keys}).encode()

    def status_list_token(self, **overrides) -> str:
        now = int(self.clock())
        lifetime = self.list_lifetime if self.list_lifetime is not None else 2 * self.ttl
        claims = list_claims(
            uri=self.list_uri, status_list=self.status, iat=now, ttl=self.ttl, exp=now + lifetime
        )
        claims = {"iss": self.issuer, **claims, **overrides}
        claims = {name: value for name, value in claims.items() if value is not None}
        return self.sign(claims, typ=LIST_TYPE)

    # Tokens

    def claims(self, **overrides) -> dict:
        """An access token's claims for this node, valid now, with its own status entry."""
        now = int(self.clock())
        idx = self.next_idx
        self.next_idx += 1
        claims = AccessClaims(
            iss=self.issuer,
            sub="p-5f2a9c0d1e",
            aud=AUDIENCE,
            iat=now,
            nbf=now,
            exp=now + 600,
            jti=str(uuid.uuid4()),
            client_id="ecii-portal",
            permit="EHDS-2027-00001-001",
            purpose="research_ai",
            scope=SCOPE_READ,
            datasets=(DATASET,),
            status_idx=idx,
            status_uri=self.list_uri,
        ).to_claims()
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(self, claims: dict, *, typ: str | None = TOKEN_TYPE, kid: str = ES_KID) -> str:
        """Sign through joserfc, the way the portal does."""
        key = self.keys[kid]
        header = {"alg": "ES256" if isinstance(key, ECKey) else "Ed25519", "kid": kid}
        if typ is not None:
            header["typ"] = typ
        return jws.serialize_compact(header, json.dumps(claims), key, algorithms=list(ALGORITHMS))

    def token(self, *, typ: str | None = TOKEN_TYPE, kid: str = ES_KID, **overrides) -> str:
        return self.sign(self.claims(**overrides), typ=typ, kid=kid)

    def idx_of(self, token: str) -> int:
        return json.loads(unb64(token.split(".")[1]))["status"]["status_list"]["idx"]


def study_map(node: str = AUDIENCE) -> StudyMap:
    return StudyMap(
        node=node,
        studies={
            STUDY: StudyEntry(dataset=DATASET, subject="p-subject-1"),
            OTHER_STUDY: StudyEntry(dataset=OTHER_DATASET, subject="p-subject-2"),
        },
    )


class _PortalHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        portal = self.server.portal  # type: ignore[attr-defined]
        try:
            body = portal(portal.issuer + self.path, accept=self.headers.get("Accept", ""))
        except FetchError:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass


@contextlib.contextmanager
def portal_over_http(clock: Clock, **options):
    """A :class:`StandInPortal` served over HTTP on a free loopback port, its issuer
    ``http://127.0.0.1:<port>``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PortalHandler)
    portal = StandInPortal(clock, issuer=f"http://127.0.0.1:{server.server_port}", **options)
    server.portal = portal  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield portal
    finally:
        server.shutdown()
        server.server_close()

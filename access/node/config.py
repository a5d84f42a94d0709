"""The gatekeeper's configuration: one TOML file written by the node operator, and the secrets it
points at (the node's credential at the portal, its report-signing key), each in a file of its
own readable by the service alone.

The file (see ``docs/node.md`` and ``access/node/conf/gatekeeper.toml``)::

    [gatekeeper]
    listen = "127.0.0.1:8090"          # loopback: nginx is the node's only public door
    state_dir = "/var/lib/ecii-gatekeeper"
    dicomweb_prefix = "/dicom-web"     # where nginx publishes DICOMweb
    reused_log = "/var/log/nginx/ecii-reused.log"  # nginx's log of the allows it reused

    [portal]
    issuer = "https://portal.example.org"
    jwks_url = "https://portal.example.org/.well-known/jwks.json"
    study_map_url = "https://portal.example.org/access/nodes/<audience>/study-map"
    reports_url = "https://portal.example.org/access/nodes/reports"
    # exclusions_url: by default the study map's address ending in /exclusions

    [node]
    audience = "urn:ecii:node:example"        # the aud of tokens for this node; its client id
    client_secret_file = "/etc/ecii-gatekeeper/client-secret"
    signing_key_file = "/etc/ecii-gatekeeper/report-key.jwk"

    [orthanc]
    dicomweb_url = "http://127.0.0.1:8042/dicom-web"   # DICOMweb over loopback, for search

    [operators]                        # name = hash from `gatekeeper new-operator NAME`
    alice = "scrypt$16384$8$1$...$..."

Operator secrets are stored as scrypt hashes and compared in constant time; the gatekeeper
refuses to start when a secret file can be read by anyone but its owner.
"""

import base64
import errno
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .portal_link import check_signing_key

# scrypt parameters for operator secrets (RFC 7914): about 16 MiB and a few tens of
# milliseconds per check. Operator secrets are generated with 192 bits of entropy, so the cost
# is a second line of defence; the gatekeeper also caches a successful check briefly.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which setting and why."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    """The stored form of an operator secret: ``scrypt$N$r$p$salt$hash``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode("utf-8"),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=SCRYPT_MAXMEM,
        dklen=32,
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_secret_hash(encoded: str) -> None:
    """Refuse a stored hash the gatekeeper could not check (raises :class:`ConfigError`)."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ConfigError("an operator secret must be a hash from `new-operator` (scrypt$...)")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise ConfigError("an operator secret hash is damaged") from None
    if n < 2**14 or n & (n - 1) or r < 8 or p < 1 or len(salt) < 16 or len(digest) != 32:
        raise ConfigError("an operator secret hash is weaker than N=2^14, r=8, 16-byte salt")


def verify_secret(secret: str, encoded: str) -> bool:
    """Whether ``secret`` matches the stored hash; the final comparison takes constant time."""
    _scheme, n, r, p, salt, digest = encoded.split("$")
    candidate = hashlib.scrypt(
        secret.encode("utf-8"),
        salt=_unb64(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        maxmem=SCRYPT_MAXMEM,
        dklen=32,
    )
    return hmac.compare_digest(candidate, _unb64(digest))


def new_operator_secret() -> str:
    """A fresh operator secret (192 bits, URL-safe), shown once to the operator."""
    return secrets.token_urlsafe(24)


def read_secret_file(path: Path, what: str) -> str:
    """The content of a secret file, refused when group or others may read or write it."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise ConfigError(f"{what}: cannot read {path} ({error.strerror})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{what}: {path} must be readable by its owner only (chmod 600)")
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise ConfigError(f"{what}: {path} is empty")
    return text


def _loopback_http(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise ConfigError(f"{what} must be a loopback http:// URL (Orthanc listens on loopback)")
    return url.rstrip("/")


def _portal_url(url: str, what: str) -> str:
    """The portal is reached over HTTPS; plain HTTP only to a portal on this machine's loopback
    (a development or test portal)."""
    parts = urlsplit(url)
    if parts.hostname and (
        parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)
    ):
        return url
    raise ConfigError(f"{what} must be an https:// URL of the portal")


def _listen(value: object) -> tuple[str, int]:
    """A loopback ``host:port``, ``[::1]:port`` for IPv6."""
    message = (
        'gatekeeper.listen must be a loopback "host:port" (nginx asks it), e.g. "127.0.0.1:8090"'
    )
    if not isinstance(value, str):
        raise ConfigError(message)
    host, _, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(message + ' (an IPv6 address in brackets: "[::1]:8090")')
    if host not in LOOPBACK or not port.isascii() or not port.isdigit():
        raise ConfigError(message)
    if not 1 <= int(port) <= 65535:
        raise ConfigError(f"gatekeeper.listen: the port {port} is not between 1 and 65535")
    return host, int(port)


def _issuer(value: str) -> str:
    """The portal's issuer, exactly as its tokens name it (``SITE_URL``): the verifier compares
    ``iss`` with it as a string, so a trailing slash would refuse every token."""
    issuer = _portal_url(value, "portal.issuer")
    if issuer.endswith("/"):
        raise ConfigError(
            f"portal.issuer is the portal's SITE_URL without a trailing slash: {issuer.rstrip('/')}"
        )
    return issuer


def _prefix(value: object) -> str:
    """Where nginx publishes DICOMweb: a path such as ``/dicom-web``."""
    if not isinstance(value, str) or not re.fullmatch(
        r"/?[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*/?", value
    ):
        raise ConfigError('gatekeeper.dicomweb_prefix must be a path such as "/dicom-web"')
    return "/" + value.strip("/")


def _check_state_dir(path: Path) -> None:
    """Refuse a state directory the gatekeeper cannot write: by writing a file in it (and in its
    report spool), or, while it does not exist, by the directory it would be made in."""
    if not path.is_absolute():
        raise ConfigError("gatekeeper.state_dir must be an absolute path")
    existing = path
    while not existing.exists():
        existing = existing.parent
    try:
        if existing != path:
            if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
                raise OSError(errno.EACCES, f"{existing} cannot hold it")
            return
        for directory in (path, path / "reports"):
            if directory.exists():
                tempfile.TemporaryFile(dir=directory).close()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"gatekeeper.state_dir: cannot write in {path} ({reason})") from None


# Every setting the gatekeeper reads, by table: anything else is a typo (``timout``,
# ``[operator]``) the gatekeeper would otherwise ignore without a word.
KNOWN = {
    "gatekeeper": {
        "listen", "state_dir", "dicomweb_prefix", "reused_log", "leeway", "jwks_refresh_floor",
        "study_map_refresh", "report_interval", "report_batch_max", "search_uid_list_max",
        "timeout", "operator_cache_seconds", "exclusions_refresh_floor",
    },
    "portal": {"issuer", "jwks_url", "study_map_url", "reports_url", "exclusions_url"},
    "node": {"audience", "client_secret_file", "signing_key_file"},
    "orthanc": {"dicomweb_url"},
    "operators": None,  # names of operators
}  # fmt: skip


def _unknown(data: dict[str, Any]) -> None:
    for table, value in data.items():
        if table not in KNOWN and not isinstance(value, dict):
            raise ConfigError(f"{table} is outside a table: put it under one ([gatekeeper]...)")
        if table not in KNOWN:
            known = ", ".join(f"[{name}]" for name in KNOWN)
            raise ConfigError(f"unknown table [{table}] (the tables are {known})")
        keys = KNOWN[table]
        if keys is not None and isinstance(value, dict):
            for key in value:
                if key not in keys:
                    raise ConfigError(
                        f"unknown setting {table}.{key} (the settings of [{table}] are "
                        f"{', '.join(sorted(keys))})"
                    )


@dataclass(frozen=True)
class Config:
    """Everything the gatekeeper reads at start (see the module docstring for the file)."""

    listen: tuple[str, int]
    state_dir: Path
    dicomweb_prefix: str
    issuer: str
    jwks_url: str
    study_map_url: str
    reports_url: str
    audience: str
    client_secret: str
    signing_key: dict[str, Any]
    orthanc_dicomweb_url: str
    operators: dict[str, str] = field(default_factory=dict)
    leeway: int = 30
    jwks_refresh_floor: float = 60.0
    study_map_refresh: float = 300.0
    report_interval: float = 10.0
    report_batch_max: int = 500
    # Search: at most this many permitted studies are sent to the DICOMweb server as a UID
    # list (paging done by the server); with more, the gatekeeper filters and pages itself.
    search_uid_list_max: int = 100
    timeout: float = 10.0
    operator_cache_seconds: float = 60.0
    # The consent exclusion list: its address (beside the study map's by default), and how
    # soon it may be fetched again for a token whose permit it does not know.
    exclusions_url: str = ""
    exclusions_refresh_floor: float = 10.0
    # The file nginx logs the requests it allowed by reusing an allow to (nginx-locations.conf),
    # read for the access reports; without it, no allow is reusable.
    reused_log: Path | None = None


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _text(section: dict[str, Any], table: str, key: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{table}.{key} is required (a non-empty string)")
    return value.strip()


def _number(
    section: dict[str, Any], table: str, key: str, default: float, *, minimum: float
) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"{table}.{key} must be a number of at least {minimum}")
    return float(value)


def _beside(url: str, name: str) -> str:
    """The address ``name`` beside the last path segment of ``url`` (the study map's
    ``.../access/nodes/<audience>/study-map`` gives ``.../access/nodes/<audience>/<name>``)."""
    head, _slash, _last = url.rstrip("/").rpartition("/")
    return f"{head}/{name}"


def load(path: Path | str) -> Config:
    """Read and check the configuration file at ``path`` and the secret files it names."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path} ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    _unknown(data)
    gatekeeper, portal = _section(data, "gatekeeper"), _section(data, "portal")
    node, orthanc = _section(data, "node"), _section(data, "orthanc")
    operators = _section(data, "operators")
    for name, encoded in operators.items():
        if not isinstance(encoded, str):
            raise ConfigError(f"operators.{name} must be a hash string")
        check_secret_hash(encoded)
    key_path = Path(_text(node, "node", "signing_key_file"))
    try:
        signing_key = json.loads(read_secret_file(key_path, "node.signing_key_file"))
    except ValueError as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"node.signing_key_file: {key_path} is not a JSON Web Key") from None
    if not isinstance(signing_key, dict) or "d" not in signing_key or "kid" not in signing_key:
        raise ConfigError("node.signing_key_file must hold a private JWK with a kid (new-key)")
    try:
        check_signing_key(signing_key)
    except Exception as error:
        raise ConfigError(
            f"node.signing_key_file: {key_path} cannot sign ({type(error).__name__}: {error}); "
            "make one with new-key"
        ) from None
    prefix = _prefix(gatekeeper.get("dicomweb_prefix", "/dicom-web"))
    state_dir = Path(_text(gatekeeper, "gatekeeper", "state_dir"))
    _check_state_dir(state_dir)
    study_map_url = _portal_url(_text(portal, "portal", "study_map_url"), "portal.study_map_url")
    exclusions_url = portal.get("exclusions_url") or _beside(study_map_url, "exclusions")
    return Config(
        listen=_listen(gatekeeper.get("listen", "127.0.0.1:8090")),
        state_dir=state_dir,
        dicomweb_prefix=prefix,
        issuer=_issuer(_text(portal, "portal", "issuer")),
        jwks_url=_portal_url(_text(portal, "portal", "jwks_url"), "portal.jwks_url"),
        study_map_url=study_map_url,
        exclusions_url=_portal_url(
            _text({"exclusions_url": exclusions_url}, "portal", "exclusions_url"),
            "portal.exclusions_url",
        ),
        exclusions_refresh_floor=_number(
            gatekeeper, "gatekeeper", "exclusions_refresh_floor", 10, minimum=1
        ),
        reports_url=_portal_url(_text(portal, "portal", "reports_url"), "portal.reports_url"),
        audience=_text(node, "node", "audience"),
        client_secret=read_secret_file(
            Path(_text(node, "node", "client_secret_file")), "node.client_secret_file"
        ),
        signing_key=signing_key,
        orthanc_dicomweb_url=_loopback_http(
            _text(orthanc, "orthanc", "dicomweb_url"), "orthanc.dicomweb_url"
        ),
        operators=dict(operators),
        leeway=int(_number(gatekeeper, "gatekeeper", "leeway", 30, minimum=0)),
        jwks_refresh_floor=_number(gatekeeper, "gatekeeper", "jwks_refresh_floor", 60, minimum=1),
        study_map_refresh=_number(gatekeeper, "gatekeeper", "study_map_refresh", 300, minimum=1),
        report_interval=_number(gatekeeper, "gatekeeper", "report_interval", 10, minimum=0.1),
        report_batch_max=int(_number(gatekeeper, "gatekeeper", "report_batch_max", 500, minimum=1)),
        search_uid_list_max=int(
            _number(gatekeeper, "gatekeeper", "search_uid_list_max", 100, minimum=0)
        ),
        timeout=_number(gatekeeper, "gatekeeper", "timeout", 10, minimum=0.1),
        operator_cache_seconds=_number(
            gatekeeper, "gatekeeper", "operator_cache_seconds", 60, minimum=0
        ),
        reused_log=_absolute_path(gatekeeper.get("reused_log"), "gatekeeper.reused_log"),
    )


def _absolute_path(value: object, name: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/"):
        raise ConfigError(f"{name} must be an absolute path")
    return Path(value)


def check_reused_log(path: Path) -> None:
    """Refuse a log of reused allows the gatekeeper cannot read (raises :class:`ConfigError`);
    a file nginx has not written yet must be in a directory the gatekeeper can read."""
    hint = "the gatekeeper's user must read it (usermod -aG adm ecii-gatekeeper)"
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        if not path.parent.is_dir() or not os.access(path.parent, os.R_OK | os.X_OK):
            raise ConfigError(f"gatekeeper.reused_log: cannot read {path.parent}; {hint}") from None
    except OSError as error:
        raise ConfigError(
            f"gatekeeper.reused_log: cannot read {path} ({error.strerror}); {hint}"
        ) from None


def write_secret_file(path: Path, text: str) -> None:
    """Write ``text`` to a new file only its owner may read (mode 600), refusing to overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)

"""Access reports: what a node served, and what it refused, sent back to the portal (the access
log of EHDS Art 73, which the consent pages show to donors).

The gatekeeper records one :class:`AccessEvent` per request it decided, and sends them in
batches: the claims of :func:`batch_claims`, signed with the node's own key as a JWT of type
:data:`REPORT_TYPE`, posted to the portal's ``/access/nodes/reports`` with the node's
credentials. The portal checks the signature with the public key it registered for the node,
reads the claims back with :func:`read_batch`, and stores each batch once (by its ``jti``).

Claims of a batch:

========== ==================================================================================
``iss``    the node's audience identifier (the ``aud`` of the tokens it accepts)
``iat``    when the batch was made
``jti``    the batch's unique id: sending it again stores nothing twice
``events`` a list of ``{"jti", "study", "time", "decision", "reason"}``: the token's ``jti``
           (null when no token could be read), the StudyInstanceUID asked for (null for a
           search or a path without one), seconds since the epoch, ``"allowed"`` or
           ``"refused"``, and the refusal's reason code (null when allowed)
========== ==================================================================================
"""

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeGuard

from .reasons import Reason

REPORT_TYPE = "accessreport+jwt"
MEDIA_TYPE = "application/accessreport+jwt"
ALLOWED = "allowed"
REFUSED = "refused"
MAX_EVENTS = 5000  # per batch: a batch stays under a megabyte
MAX_ID_CHARS = 200  # as long as a node's audience may be (catalogue.Node.audience)
# A DICOM UID (PS3.5 9.1): digits and dots, at most 64 characters.
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
# A reason code: the portal reads codes of newer nodes too (nodes upgrade at their own pace).
_REASON = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MAX_TIME = 10**11


class InvalidReport(ValueError):
    """A batch of access reports that is not of the agreed shape."""


def is_uid(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a DICOM UID."""
    return isinstance(value, str) and len(value) <= 64 and _UID.fullmatch(value) is not None


def _time(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_TIME


def _identifier(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS and value.isprintable()


@dataclass(frozen=True)
class AccessEvent:
    """One request the node decided."""

    jti: str | None
    study: str | None
    time: int
    decision: str  # ALLOWED or REFUSED
    reason: str | None  # a reason code when refused; None when allowed

    @classmethod
    def recorded(
        cls, *, jti: str | None, study: str | None, time: float, reason: Reason | None
    ) -> "AccessEvent":
        """The event of a decision (``reason`` None when it allowed). A study that is not a
        DICOM UID (a refused request's path may hold anything) is recorded as None."""
        return cls(
            jti=jti if _identifier(jti) else None,
            study=study if is_uid(study) else None,
            time=int(time),
            decision=ALLOWED if reason is None else REFUSED,
            reason=None if reason is None else reason.value,
        )

    def to_claim(self) -> dict[str, Any]:
        return {
            "jti": self.jti,
            "study": self.study,
            "time": self.time,
            "decision": self.decision,
            "reason": self.reason,
        }

    @classmethod
    def from_claim(cls, value: object) -> "AccessEvent":
        """Read one event; raises :class:`InvalidReport` naming what is wrong."""
        if not isinstance(value, dict):
            raise InvalidReport("each event is a JSON object")
        jti, study, time = value.get("jti"), value.get("study"), value.get("time")
        decision, reason = value.get("decision"), value.get("reason")
        if jti is not None and not _identifier(jti):
            raise InvalidReport("an event's jti is a token id or null")
        if study is not None and not is_uid(study):
            raise InvalidReport("an event's study is a StudyInstanceUID or null")
        if not _time(time):
            raise InvalidReport("an event's time is seconds since the epoch")
        if decision == ALLOWED:
            if reason is not None:
                raise InvalidReport("an allowed event has no reason")
        elif decision == REFUSED:
            if not isinstance(reason, str) or not _REASON.fullmatch(reason):
                raise InvalidReport("a refused event has a reason code")
        else:
            raise InvalidReport(f"an event's decision is {ALLOWED!r} or {REFUSED!r}")
        return cls(jti=jti, study=study, time=time, decision=str(decision), reason=reason)


@dataclass(frozen=True)
class AccessReport:
    """A batch of events from one node."""

    node: str
    iat: int
    jti: str
    events: tuple[AccessEvent, ...]

    def to_claims(self) -> dict[str, Any]:
        return {
            "iss": self.node,
            "iat": self.iat,
            "jti": self.jti,
            "events": [event.to_claim() for event in self.events],
        }


def batch_claims(
    *, node: str, events: Iterable[AccessEvent], iat: int, jti: str | None = None
) -> dict[str, Any]:
    """The claims of a batch (to be signed by the node as :data:`REPORT_TYPE`); checked as
    :func:`read_batch` will check them, so a node never sends what the portal refuses."""
    claims = AccessReport(
        node=node, iat=iat, jti=jti or uuid.uuid4().hex, events=tuple(events)
    ).to_claims()
    read_batch(claims)
    return claims


def read_batch(claims: object) -> AccessReport:
    """Read the claims of a batch; raises :class:`InvalidReport` naming the first fault."""
    if not isinstance(claims, dict):
        raise InvalidReport("the claims of a batch are a JSON object")
    node, iat, jti, events = (claims.get(name) for name in ("iss", "iat", "jti", "events"))
    if not _identifier(node):
        raise InvalidReport("iss names the node")
    if not _time(iat):
        raise InvalidReport("iat is seconds since the epoch")
    if not _identifier(jti):
        raise InvalidReport("jti identifies the batch")
    if not isinstance(events, list) or not events:
        raise InvalidReport("events is a list of at least one event")
    if len(events) > MAX_EVENTS:
        raise InvalidReport(f"a batch holds at most {MAX_EVENTS} events")
    return AccessReport(
        node=node,
        iat=iat,
        jti=jti,
        events=tuple(AccessEvent.from_claim(event) for event in events),
    )

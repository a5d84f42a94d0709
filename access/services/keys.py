"""The portal's signing keys: create, rotate, retire, re-encrypt; and signing with the active
key.

One key is active (it signs everything the portal issues), one is next (already in the JWKS,
so that nodes hold it before it signs anything) and retired keys stay in the JWKS for
``SIGNING_KEY_RETENTION`` after they retire, so that a token, status list or study map signed
just before a rotation still verifies after it. Rotating promotes next to active, retires the
active key and makes a new next key. A retired key's private half is erased at once.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access import signing
from access.models import SigningKey
from access.services.common import InvalidTransition, _record
from portal.models import User
from portal.signing_kek import KekRing


class SigningUnavailable(Exception):
    """The portal has no active signing key (production creates one with
    ``manage.py signing_keys create``)."""


def _kek() -> KekRing:
    ring: KekRing = settings.SIGNING_KEK
    return ring


def _new_key(status: str, alg: str, now: datetime) -> SigningKey:
    made = signing.generate_key(alg)
    ring = _kek()
    return SigningKey.objects.create(
        kid=made.kid,
        alg=made.alg,
        status=status,
        public_jwk=made.public_jwk,
        private_key=signing.encrypt_private_key(made.private_jwk, kek=ring.current, kid=made.kid),
        kek_id=ring.current_id,
        activated_at=now if status == SigningKey.Status.ACTIVE else None,
    )


def _algorithm(alg: str | None) -> str:
    alg = alg or settings.SIGNING_ALGORITHM
    if alg not in SigningKey.Algorithm.values:
        raise InvalidTransition(_("%s is not a signing algorithm the nodes accept.") % alg)
    return alg


def _current() -> tuple[SigningKey | None, SigningKey | None]:
    """The active and the next key, locked."""
    keys = {
        key.status: key
        for key in SigningKey.objects.select_for_update().filter(
            status__in=[SigningKey.Status.ACTIVE, SigningKey.Status.NEXT]
        )
    }
    return keys.get(SigningKey.Status.ACTIVE), keys.get(SigningKey.Status.NEXT)


@transaction.atomic
def signing_key_create(*, actor: User | None = None, alg: str | None = None) -> list[SigningKey]:
    """The first time, an active key and a next key; afterwards, a next key when there is
    none. Refused while a next key waits (rotate first)."""
    alg = _algorithm(alg)
    active, upcoming = _current()
    if active is not None and upcoming is not None:
        raise InvalidTransition(
            _("There is already a next key (%s): rotate to use it.") % upcoming.kid
        )
    now = timezone.now()
    made = []
    if active is None:
        if upcoming is not None:
            raise InvalidTransition(_("There is a next key but no active key: rotate."))
        made.append(_new_key(SigningKey.Status.ACTIVE, alg, now))
    made.append(_new_key(SigningKey.Status.NEXT, alg, now))
    for key in made:
        _record("access.signing_key.created", actor, key, kid=key.kid, alg=key.alg,
                status=key.status)  # fmt: skip
    return made


@dataclass(frozen=True)
class Rotation:
    retired: SigningKey | None
    activated: SigningKey
    created: SigningKey


def _retire(key: SigningKey, now: datetime, *, at_once: bool) -> None:
    key.transition_to(SigningKey.Status.RETIRED)
    key.retired_at = now
    key.published_until = (
        now if at_once else now + timedelta(seconds=settings.SIGNING_KEY_RETENTION)
    )
    key.private_key = ""
    key.kek_id = ""
    key.save(update_fields=["status", "retired_at", "published_until", "private_key", "kek_id"])


@transaction.atomic
def signing_keys_rotate(*, actor: User | None = None, alg: str | None = None) -> Rotation:
    """Next becomes active, active retires (published for ``SIGNING_KEY_RETENTION`` more),
    and a new next key of ``alg`` is made. Needs a next key: one made at the previous rotation
    has been in the JWKS since, so every node already holds it."""
    alg = _algorithm(alg)
    active, upcoming = _current()
    if upcoming is None:
        raise InvalidTransition(
            _("There is no next key to rotate to: create one first, and rotate once nodes have "
              "fetched the JWKS (5 minutes).")
        )  # fmt: skip
    now = timezone.now()
    if active is not None:
        _retire(active, now, at_once=False)
        _record("access.signing_key.retired", actor, active, kid=active.kid,
                published_until=active.published_until)  # fmt: skip
    upcoming.transition_to(SigningKey.Status.ACTIVE)
    upcoming.activated_at = now
    upcoming.save(update_fields=["status", "activated_at"])
    _record("access.signing_key.activated", actor, upcoming, kid=upcoming.kid)
    created = _new_key(SigningKey.Status.NEXT, alg, now)
    _record("access.signing_key.created", actor, created, kid=created.kid, alg=created.alg,
            status=created.status)  # fmt: skip
    _forget_signers()
    return Rotation(retired=active, activated=upcoming, created=created)


@transaction.atomic
def signing_key_retire(*, kid: str, actor: User | None = None, at_once: bool = False) -> SigningKey:
    """Retire the next key, or withdraw a retired key from the JWKS now (``at_once``, for a
    key that may have leaked: what it signed stops verifying). The active key retires only by
    rotation, so that something always signs."""
    key = SigningKey.objects.select_for_update().filter(kid=kid).first()
    if key is None:
        raise InvalidTransition(_("There is no signing key %s.") % kid)
    if key.status == SigningKey.Status.ACTIVE:
        raise InvalidTransition(_("%s is the active key: rotate to retire it.") % kid)
    now = timezone.now()
    if key.status == SigningKey.Status.RETIRED:
        if not at_once:
            raise InvalidTransition(_("%s is already retired.") % kid)
        key.published_until = now
        key.save(update_fields=["published_until"])
    else:
        _retire(key, now, at_once=True)  # a next key never signed anything
    _record("access.signing_key.retired", actor, key, kid=key.kid,
            published_until=key.published_until, at_once=at_once)  # fmt: skip
    return key


@transaction.atomic
def signing_keys_rewrap(*, actor: User | None = None) -> int:
    """Encrypt every stored private key again under the current key-encryption key (after
    ``SIGNING_KEK`` changed, with the old one in ``SIGNING_KEK_PREVIOUS``). How many were."""
    ring = _kek()
    rewrapped = 0
    for key in (
        SigningKey.objects.select_for_update()
        .exclude(private_key="")
        .exclude(kek_id=ring.current_id)
    ):
        private = signing.decrypt_private_key(key.private_key, kek=_kek_for(key), kid=key.kid)
        key.private_key = signing.encrypt_private_key(private, kek=ring.current, kid=key.kid)
        key.kek_id = ring.current_id
        key.save(update_fields=["private_key", "kek_id"])
        _record("access.signing_key.rewrapped", actor, key, kid=key.kid, kek=key.kek_id)
        rewrapped += 1
    return rewrapped


def _kek_for(key: SigningKey) -> bytes:
    ring = _kek()
    if key.kek_id not in ring.keys:
        raise signing.SigningError(
            f"the private key of {key.kid} is encrypted under KEK {key.kek_id}, which neither "
            "SIGNING_KEK nor SIGNING_KEK_PREVIOUS holds"
        )
    return ring.keys[key.kek_id]


# --- Signing ------------------------------------------------------------------------------

# Decrypted keys, by kid, for this process: decrypting and importing a key costs more than
# signing with it. Which key is active is asked of the database every time, so a rotation
# takes effect at once in every process; the key just retired is erased from the database.
_signers: dict[str, signing.Signer] = {}


def _forget_signers() -> None:
    _signers.clear()


def active_signer() -> signing.Signer:
    """The signer of the active key. In development (``SIGNING_KEYS_AUTO_CREATE``) the first
    keys are made when first needed; otherwise :class:`SigningUnavailable`."""
    row = (
        SigningKey.objects.filter(status=SigningKey.Status.ACTIVE)
        .values_list("kid", "alg", "private_key", "kek_id")
        .first()
    )
    if row is None:
        if not settings.SIGNING_KEYS_AUTO_CREATE:
            raise SigningUnavailable(
                _("The portal has no signing key yet; the access body creates one with "
                  "manage.py signing_keys create.")
            )  # fmt: skip
        try:
            with transaction.atomic():
                signing_key_create()
        except (IntegrityError, InvalidTransition):
            pass  # another process made them first
        return active_signer()
    kid, alg, blob, kek_id = row
    signer = _signers.get(kid)
    if signer is None:
        ring = _kek()
        if kek_id not in ring.keys:
            raise SigningUnavailable(
                _("The active signing key is encrypted under a key-encryption key the portal "
                  "does not hold (%s).") % kek_id
            )  # fmt: skip
        try:
            private = signing.decrypt_private_key(blob, kek=ring.keys[kek_id], kid=kid)
            made = signing.Signer(kid=kid, alg=alg, private_jwk=private)
        except signing.SigningError as error:
            raise SigningUnavailable(str(error)) from None
        signer = _signers.setdefault(kid, made)
    return signer


def sign(claims: Mapping[str, Any], typ: str) -> str:
    """``claims`` signed with the active key, typed ``typ`` (header ``alg``, ``kid``,
    ``typ``)."""
    return active_signer().sign(claims, typ)

"""Donor links: a citizen's account linked to the pseudonym their images carry at a node, by a
one-time code the node's operator issues. Each write is audited, and tells the layers above
(``consent.signals``) which pseudonyms' decisions may have changed, in its transaction.
"""

import hashlib
import re
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalogue.models import Node
from consent.models import DonorLink, LinkCode
from consent.signals import send_subjects_changed
from portal.audit import audit_record
from portal.models import Role, User
from portal.workflow import NotPermitted

LINK_CODE_LIFETIME = timedelta(days=30)
# Link codes: 16 characters of an alphabet without look-alikes (no I, O, 0 or 1), 80 bits.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 16
# A pseudonym as DICOM carries it in PatientID (LO: at most 64 characters, no backslash).
SUBJECT_PATTERN = re.compile(r"[^\\\x00-\x1f\x7f]{1,64}")


def _require_citizen(person: User) -> None:
    if not person.has_role(Role.CITIZEN):
        raise NotPermitted(_("Only citizens record consents for their own data."))


def hash_code(code: str) -> str:
    """SHA-256 of a link code as typed (upper case, without spaces or dashes)."""
    return hashlib.sha256(code.encode()).hexdigest()


def _normalise_code(code: str) -> str:
    return re.sub(r"[\s\-]", "", code).upper()


@transaction.atomic
def link_code_issue(*, node: Node, subject: str, actor: User) -> tuple[LinkCode, str]:
    """Issue a one-time code for the pseudonym ``subject`` at ``node``, to hand to the patient.
    Only the node's operators may; a pseudonym already linked to an account gets none. The
    code works once, for 30 days; an earlier code for the same pseudonym stops working. Only
    its hash is kept: the returned text is the only copy."""
    if not actor.has_role(Role.NODE_OPERATOR) or not node.operators.filter(pk=actor.pk).exists():
        raise NotPermitted(_("Only the node's operators issue link codes."))
    subject = subject.strip()
    if not SUBJECT_PATTERN.fullmatch(subject):
        raise ValidationError(
            {"subject": _("A pseudonym is 1 to 64 characters, without backslashes.")}
        )
    if DonorLink.objects.filter(node=node, subject=subject).exists():
        raise ValidationError({"subject": _("This pseudonym is already linked to an account.")})
    now = timezone.now()
    LinkCode.objects.filter(
        node=node, subject=subject, redeemed_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    link_code = LinkCode(
        node=node,
        subject=subject,
        code_hash=hash_code(code),
        issued_by=actor,
        issued_at=now,
        expires_at=now + LINK_CODE_LIFETIME,
    )
    link_code.save(force_insert=True)
    audit_record(
        "consent.link_code.issued",
        actor=actor,
        obj=link_code,
        details={"node": node.slug, "subject": subject, "expires_at": link_code.expires_at},
    )
    return link_code, "-".join(code[i : i + 4] for i in range(0, CODE_LENGTH, 4))


@transaction.atomic
def link_code_redeem(*, citizen: User, code: str) -> DonorLink:
    """Link the pseudonym a code was issued for to the citizen's account. The code must be
    known, unused, not replaced and not expired; the pseudonym not linked yet."""
    _require_citizen(citizen)
    typed = _normalise_code(code)
    invalid = ValidationError({"code": _("This is not a valid link code.")})
    if len(typed) != CODE_LENGTH or set(typed) - set(CODE_ALPHABET):
        raise invalid
    link_code = (
        LinkCode.objects.select_for_update()
        .select_related("node")
        .filter(code_hash=hash_code(typed))
        .first()
    )
    if link_code is None:
        raise invalid
    now = timezone.now()
    if link_code.redeemed_at or link_code.revoked_at:
        raise ValidationError(
            {"code": _("This code was already used or replaced: ask the hospital for a new one.")}
        )
    if link_code.expires_at <= now:
        raise ValidationError({"code": _("This code has expired: ask the hospital for a new one.")})
    if DonorLink.objects.filter(node=link_code.node, subject=link_code.subject).exists():
        raise ValidationError({"code": _("These images are already linked to an account.")})
    link = DonorLink(citizen=citizen, node=link_code.node, subject=link_code.subject, linked_at=now)
    link.save(force_insert=True)
    link_code.redeemed_at = now
    link_code.redeemed_by = citizen
    link_code.save(update_fields=["redeemed_at", "redeemed_by"])
    audit_record(
        "consent.link.created",
        actor=citizen,
        obj=link,
        details={"node": link.node.slug, "subject": link.subject},
    )
    send_subjects_changed([(link.node_id, link.subject)])
    return link


@transaction.atomic
def link_remove(*, citizen: User, link: DonorLink) -> None:
    """Unlink a pseudonym from the citizen's account (their choice). Their consents no longer
    reach the images it names."""
    locked = DonorLink.objects.select_for_update().select_related("node").get(pk=link.pk)
    if locked.citizen_id != citizen.pk:
        raise NotPermitted(_("This link is not yours."))
    details = {"node": locked.node.slug, "subject": locked.subject}
    pair = (locked.node_id, locked.subject)
    pk = locked.pk
    locked.delete()
    send_subjects_changed([pair])
    audit_record(
        "consent.link.removed",
        actor=citizen,
        object_type="consent.donorlink",
        object_id=pk,
        details=details,
    )

"""Reads of consents and donor links, the access check of each, and the consent decision for
many subjects at once.

Who sees a consent (:func:`access_consent`, :func:`consents_visible_to`): the citizen it
belongs to (read and write); the access body (read); the operators of a node where its owner
linked their images (read). Everyone else gets 404, as for a consent that does not exist.

The decisions for many subjects (:func:`allowed_counts`, :func:`refusal_counts`,
:func:`exclusion_set`, :func:`not_allowed`, in a fixed number of queries whatever the number of
subjects or datasets) are ``consent.cohort``'s, the current consents of linked subjects
``consent.facts``'s; both are read from here.
"""

from django.db.models import Q, QuerySet
from django.http import Http404

from consent.cohort import Refusal as Refusal
from consent.cohort import SubjectCount as SubjectCount
from consent.cohort import allowed_counts as allowed_counts
from consent.cohort import decide_for_subject as decide_for_subject
from consent.cohort import default_permit as default_permit
from consent.cohort import every_use_refusals as every_use_refusals
from consent.cohort import exclusion_set as exclusion_set
from consent.cohort import not_allowed as not_allowed
from consent.cohort import refusal_counts as refusal_counts
from consent.facts import consent_facts as consent_facts
from consent.facts import current_consents as current_consents
from consent.models import ConsentRecord, ConsentVersion, DonorLink, LinkCode
from portal.models import AnyUser, Role, User
from portal.workflow import NotPermitted

# ---------------------------------------------------------------------------------------------
# Consents and their versions


def _may_read_as_operator(user: User, record: ConsentRecord) -> bool:
    return user.has_role(Role.NODE_OPERATOR) and (
        DonorLink.objects.filter(citizen_id=record.owner_id, node__operators=user).exists()
    )


def access_consent(user: AnyUser, pk: str, *, for_write: bool = False) -> ConsentRecord:
    """The consent ``pk`` if ``user`` may see it; 404 when they may not or it does not exist,
    :class:`~portal.workflow.NotPermitted` (403) when they may see it but not write it."""
    record = ConsentRecord.objects.select_related("owner").filter(pk=pk).first()
    if record is None or not isinstance(user, User) or not user.is_active:
        raise Http404
    if record.owner_id == user.pk and user.has_role(Role.CITIZEN):
        return record
    if user.has_role(Role.HDAB_ADMIN) or _may_read_as_operator(user, record):
        if for_write:
            raise NotPermitted("Only the person whose consent it is may change it.")
        return record
    raise Http404


def consents_visible_to(user: AnyUser) -> QuerySet[ConsentRecord]:
    """Every consent ``user`` may read (for searches and lists)."""
    records = ConsentRecord.objects.select_related("owner")
    if not isinstance(user, User) or not user.is_active:
        return records.none()
    if user.has_role(Role.HDAB_ADMIN):
        return records.all()
    visible = Q(pk__in=[])
    if user.has_role(Role.CITIZEN):
        visible |= Q(owner=user)
    if user.has_role(Role.NODE_OPERATOR):
        linked = DonorLink.objects.filter(node__operators=user).values("citizen_id")
        visible |= Q(owner_id__in=linked)
    return records.filter(visible)


def consents_of(citizen: User) -> QuerySet[ConsentRecord]:
    """The citizen's own consents (a donation and an opt-out at most)."""
    return ConsentRecord.objects.filter(owner=citizen).order_by("kind")


def consent_of_kind(citizen: User, kind: str) -> ConsentRecord | None:
    """The citizen's donation or opt-out (``ConsentRecord.Kind``), if they have one."""
    return ConsentRecord.objects.filter(owner=citizen, kind=kind).first()


def current_version(record: ConsentRecord) -> ConsentVersion:
    """The version of ``record`` in force now."""
    return ConsentVersion.objects.get(record=record, version=record.current_version)


def versions_of(record: ConsentRecord) -> QuerySet[ConsentVersion]:
    """Every version of ``record``, newest first (FHIR ``_history``)."""
    return ConsentVersion.objects.filter(record=record).order_by("-version")


def version_of(record: ConsentRecord, number: int) -> ConsentVersion:
    """One version of ``record`` (FHIR vread); 404 when there is no such version."""
    version = ConsentVersion.objects.filter(record=record, version=number).first()
    if version is None:
        raise Http404
    return version


# ---------------------------------------------------------------------------------------------
# Donor links and link codes


def donor_links_of(citizen: User) -> QuerySet[DonorLink]:
    """The pseudonyms the citizen linked, with their nodes."""
    return DonorLink.objects.filter(citizen=citizen).select_related("node").order_by("linked_at")


def access_donor_link(user: AnyUser, pk: int) -> DonorLink:
    """The citizen's own link ``pk``; 404 for anyone else's and for one that does not exist."""
    link = DonorLink.objects.select_related("node").filter(pk=pk).first()
    if link is None or not isinstance(user, User) or link.citizen_id != user.pk:
        raise Http404
    return link


def link_codes_of(user: AnyUser, node_pk: int) -> QuerySet[LinkCode]:
    """The codes issued at a node the user operates (never the codes themselves: only hashes
    are kept); nothing for anyone else."""
    if not isinstance(user, User) or not user.has_role(Role.NODE_OPERATOR):
        return LinkCode.objects.none()
    return LinkCode.objects.filter(node_id=node_pk, node__operators=user).order_by("-issued_at")

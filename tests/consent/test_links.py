"""A node's operator issues a one-time code for a pseudonym at their node; the patient enters it
and their account is linked to the images carrying that pseudonym. Nobody links a pseudonym
without its code; a code works once, for 30 days, and only its hash is stored."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from consent import services
from consent.models import DonorLink, LinkCode
from portal.models import AuditEvent, Role
from portal.workflow import NotPermitted
from tests.factories import UserFactory


@pytest.fixture
def issued(personas, catalogue):
    link_code, code = services.link_code_issue(
        node=catalogue.own_node, subject="PAT-0042", actor=personas["node_operator"]
    )
    return link_code, code


def test_the_code_links_the_pseudonym_to_the_citizen(personas, catalogue, issued):
    link_code, code = issued
    assert len(code) == 19 and code.count("-") == 3
    link = services.link_code_redeem(citizen=personas["citizen"], code=code)
    assert (link.citizen, link.node, link.subject) == (
        personas["citizen"],
        catalogue.own_node,
        "PAT-0042",
    )
    link_code.refresh_from_db()
    assert link_code.redeemed_by == personas["citizen"] and link_code.redeemed_at
    actions = list(
        AuditEvent.objects.filter(action__startswith="consent.link")
        .order_by("seq")
        .values_list("action", "details")
    )
    assert [a for a, _ in actions] == ["consent.link_code.issued", "consent.link.created"]
    assert actions[1][1] == {"node": "oslo", "subject": "PAT-0042"}


def test_only_a_hash_of_the_code_is_stored(issued):
    link_code, code = issued
    stored = LinkCode.objects.get(pk=link_code.pk)
    plain = code.replace("-", "")
    assert plain not in stored.code_hash and stored.code_hash == services.hash_code(plain)
    assert code not in str(list(AuditEvent.objects.values_list("details", flat=True)))


def test_a_code_typed_loosely_still_works(personas, issued):
    _link_code, code = issued
    typed = " " + code.lower().replace("-", " ") + " "
    assert services.link_code_redeem(citizen=personas["citizen"], code=typed)


def test_a_code_works_once(personas, issued, another_citizen):
    _link_code, code = issued
    services.link_code_redeem(citizen=personas["citizen"], code=code)
    with pytest.raises(ValidationError) as refused:
        services.link_code_redeem(citizen=another_citizen, code=code)
    assert "already used" in refused.value.message_dict["code"][0]
    assert DonorLink.objects.get().citizen == personas["citizen"]


def test_an_expired_code_does_not_work(personas, issued):
    link_code, code = issued
    LinkCode.objects.filter(pk=link_code.pk).update(expires_at=timezone.now())
    with pytest.raises(ValidationError) as refused:
        services.link_code_redeem(citizen=personas["citizen"], code=code)
    assert "expired" in refused.value.message_dict["code"][0]
    assert not DonorLink.objects.exists()


def test_a_code_expires_after_thirty_days(issued):
    link_code, _code = issued
    assert link_code.expires_at - link_code.issued_at == timedelta(days=30)


def test_a_new_code_replaces_the_earlier_one(personas, catalogue, issued):
    _first, old = issued
    _second, new = services.link_code_issue(
        node=catalogue.own_node, subject="PAT-0042", actor=personas["node_operator"]
    )
    with pytest.raises(ValidationError):
        services.link_code_redeem(citizen=personas["citizen"], code=old)
    assert services.link_code_redeem(citizen=personas["citizen"], code=new)


@pytest.mark.parametrize("guess", ["ABCD-EFGH-JKLM-NPQR", "not a code", "", "0" * 16])
def test_nobody_links_a_pseudonym_without_its_code(personas, issued, guess):
    with pytest.raises(ValidationError) as refused:
        services.link_code_redeem(citizen=personas["citizen"], code=guess)
    assert refused.value.message_dict["code"] == ["This is not a valid link code."]
    assert not DonorLink.objects.exists()


def test_operators_see_the_codes_issued_at_their_node_never_the_codes(personas, catalogue, issued):
    from consent.selectors import link_codes_of

    assert list(link_codes_of(personas["node_operator"], catalogue.own_node.pk)) == [issued[0]]
    stranger = UserFactory(roles=[Role.NODE_OPERATOR])
    for user in (stranger, personas["citizen"], personas["hdab_admin"]):
        assert list(link_codes_of(user, catalogue.own_node.pk)) == []
    assert not hasattr(issued[0], "code")


def test_only_the_node_s_operators_issue_codes(personas, catalogue):
    other_operator = UserFactory(roles=[Role.NODE_OPERATOR])
    for actor in (other_operator, personas["citizen"], personas["hdab_admin"]):
        with pytest.raises(NotPermitted):
            services.link_code_issue(node=catalogue.own_node, subject="PAT-1", actor=actor)
    assert not LinkCode.objects.exists()


@pytest.mark.parametrize("subject", ["", "   ", "a" * 65, "back\\slash", "line\nbreak"])
def test_a_pseudonym_is_what_dicom_can_carry(personas, catalogue, subject):
    with pytest.raises(ValidationError):
        services.link_code_issue(
            node=catalogue.own_node, subject=subject, actor=personas["node_operator"]
        )


def test_a_linked_pseudonym_gets_no_new_code(personas, catalogue, issued):
    services.link_code_redeem(citizen=personas["citizen"], code=issued[1])
    with pytest.raises(ValidationError):
        services.link_code_issue(
            node=catalogue.own_node, subject="PAT-0042", actor=personas["node_operator"]
        )


def test_only_citizens_redeem_codes(personas, issued):
    with pytest.raises(NotPermitted):
        services.link_code_redeem(citizen=personas["researcher"], code=issued[1])
    assert not DonorLink.objects.exists()


def test_the_citizen_unlinks_their_images(personas, issued, another_citizen):
    link = services.link_code_redeem(citizen=personas["citizen"], code=issued[1])
    with pytest.raises(NotPermitted):
        services.link_remove(citizen=another_citizen, link=link)
    services.link_remove(citizen=personas["citizen"], link=link)
    assert not DonorLink.objects.exists()
    event = AuditEvent.objects.get(action="consent.link.removed")
    assert (event.object_type, event.actor) == ("consent.donorlink", personas["citizen"])

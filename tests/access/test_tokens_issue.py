"""Issuing access tokens: what a token holds, and every refusal with its reason."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from access import services
from access.models import AccessToken, Permit, TokenStatusList
from access.node.claims import MAX_LIFETIME, SCOPE_READ
from access.status_indices import index_of
from portal.models import AuditEvent
from tests.access.conftest import token_claims
from tests.factories import UserFactory


def _issue(permit, node, person, **kwargs):
    return services.token_issue(permit=permit, node=node, actor=person, **kwargs)


def test_a_token_holds_the_claims_a_node_checks(permit, catalogue, personas, client, settings):
    researcher = personas["researcher"]
    before = int(timezone.now().timestamp())
    issued = _issue(permit, catalogue.own_node, researcher)
    claims = token_claims(issued.token, client)  # verified against the published JWKS

    assert claims.iss == settings.SITE_URL
    assert claims.sub == researcher.pseudonym  # never a name or an email
    assert researcher.email not in issued.token and researcher.username not in str(claims)
    assert claims.aud == catalogue.own_node.audience
    assert before <= claims.iat == claims.nbf <= claims.iat + 2
    assert claims.exp - claims.iat == settings.ACCESS_TOKEN_LIFETIME <= MAX_LIFETIME
    assert claims.client_id == settings.TOKEN_CLIENT_ID == "ecii-portal"
    assert (claims.permit, claims.purpose) == (permit.number, permit.purpose)
    assert claims.scope == SCOPE_READ
    assert claims.datasets == (str(catalogue.published.identifier),)  # only Oslo's dataset
    assert claims.status_uri == (
        f"{settings.SITE_URL}/access/status-lists/{issued.record.status_list_id}"
    )
    assert claims.status_idx == issued.record.status_index
    record = AccessToken.objects.get(jti=claims.jti)
    assert (record.permit, record.node, record.holder) == (
        permit, catalogue.own_node, researcher
    )  # fmt: skip
    assert record.status == AccessToken.Status.VALID
    event = AuditEvent.objects.get(action="access.token.issued")
    assert event.actor_id == researcher.pk and event.details["jti"] == claims.jti
    assert issued.token not in str(event.details)  # the chain never holds the token


def test_each_token_takes_its_own_status_entry_and_a_full_list_starts_another(
    permit, catalogue, personas, settings
):
    settings.STATUS_LIST_SIZE = 8
    entries = [
        (t.record.status_list_id, t.record.status_index)
        for t in (_issue(permit, catalogue.own_node, personas["researcher"]) for _ in range(10))
    ]
    assert len(set(entries)) == 10
    first, second = TokenStatusList.objects.order_by("pk")
    # Every entry of the full list is used once, each at the index its key draws.
    in_first = [index for list_id, index in entries if list_id == first.pk]
    assert sorted(in_first) == list(range(8))
    assert in_first == [index_of(bytes(first.index_key), n, 8) for n in range(8)]
    assert len([e for e in entries if e[0] == second.pk]) == 2
    assert AuditEvent.objects.filter(action="access.status_list.created").count() == 2


def test_an_index_tells_nothing_of_the_order_tokens_were_issued_in(
    permit, catalogue, personas, settings
):
    settings.STATUS_LIST_SIZE = 65536
    indices = [
        _issue(permit, catalogue.own_node, personas["researcher"]).record.status_index
        for _ in range(12)
    ]
    assert len(set(indices)) == 12
    assert indices != sorted(indices)  # in order: a chance of 1 in 12! (about 2 in a billion)
    assert max(indices) > 12  # spread over the list, not its first entries


def test_a_list_made_before_keys_existed_goes_on_handing_out_its_entries_in_order(
    permit, catalogue, personas
):
    TokenStatusList.objects.create(capacity=64, next_index=3)  # no index_key
    indices = [
        _issue(permit, catalogue.own_node, personas["researcher"]).record.status_index
        for _ in range(3)
    ]
    assert indices == [3, 4, 5]


def test_a_shorter_lifetime_can_be_asked_and_a_token_never_outlives_its_permit(
    permit, catalogue, personas
):
    issued = _issue(permit, catalogue.own_node, personas["researcher"], lifetime=300)
    assert issued.claims.exp - issued.claims.iat == 300
    for wrong in [0, 59, MAX_LIFETIME + 1]:
        with pytest.raises(ValidationError) as refusal:
            _issue(permit, catalogue.own_node, personas["researcher"], lifetime=wrong)
        assert "lifetime" in refusal.value.message_dict
    # A permit whose last day is today: the token ends at midnight at the latest.
    Permit.objects.filter(pk=permit.pk).update(ends_on=timezone.localdate())
    permit.refresh_from_db()
    issued = _issue(permit, catalogue.own_node, personas["researcher"])
    midnight = services.tokens.permit_end(permit)
    assert issued.record.expires_at <= midnight
    assert issued.claims.exp <= int(midnight.timestamp())


def test_a_team_member_named_on_the_permit_gets_a_token_too(permit, catalogue):
    member = UserFactory(username="team_member", roles=["researcher"])
    permit.authorised_persons.add(member)
    issued = _issue(permit, catalogue.own_node, member)
    assert issued.claims.sub == member.pseudonym and issued.record.holder == member


@pytest.mark.parametrize("persona", ["committee_chair", "committee_member", "hdab_admin",
                                     "other_researcher"])  # fmt: skip
def test_it_refuses_anyone_the_permit_does_not_authorise(permit, catalogue, personas, persona):
    with pytest.raises(services.NotPermitted, match="issued only to the people it authorises"):
        _issue(permit, catalogue.own_node, personas[persona])
    assert not AccessToken.objects.exists()


def test_it_refuses_a_deactivated_account(permit, catalogue, personas):
    researcher = personas["researcher"]
    researcher.is_active = False
    researcher.save(update_fields=["is_active"])
    with pytest.raises(services.NotPermitted):
        _issue(permit, catalogue.own_node, researcher)


@pytest.mark.parametrize(
    ("change", "reason"),
    [("suspend", "is suspended"), ("revoke", "is revoked")],
)
def test_it_refuses_a_permit_that_is_not_active(permit, catalogue, personas, change, reason):
    services.permit_change(
        permit=permit, actor=personas["committee_chair"], change=change, reason="Audit finding"
    )
    permit.refresh_from_db()
    with pytest.raises(services.InvalidTransition, match=reason):
        _issue(permit, catalogue.own_node, personas["researcher"])
    assert not AccessToken.objects.exists()


def test_it_refuses_an_expired_permit(permit, catalogue, personas):
    Permit.objects.filter(pk=permit.pk).update(ends_on=timezone.localdate() - timedelta(days=1))
    services.permits_expire()
    permit.refresh_from_db()
    with pytest.raises(services.InvalidTransition, match="is expired"):
        _issue(permit, catalogue.own_node, personas["researcher"])


def test_it_refuses_a_permit_that_ended_before_expire_permits_ran(permit, catalogue, personas):
    ended = timezone.localdate() - timedelta(days=1)
    Permit.objects.filter(pk=permit.pk).update(ends_on=ended)
    permit.refresh_from_db()
    assert permit.status == Permit.Status.ACTIVE  # nothing has marked it expired yet
    with pytest.raises(services.InvalidTransition, match=f"ended on {ended:%Y-%m-%d}"):
        _issue(permit, catalogue.own_node, personas["researcher"])


def test_it_refuses_a_node_where_the_permit_grants_nothing(permit, catalogue, personas):
    with pytest.raises(ValidationError) as refusal:
        _issue(permit, catalogue.other_node, personas["researcher"])
    assert refusal.value.message_dict == {
        "node": [f"Permit {permit.number} grants no dataset at Valencia imaging node."]
    }
    # the other permit of the same application grants Valencia's dataset, not Oslo's
    issued = _issue(permit.other, catalogue.other_node, personas["researcher"])
    assert issued.claims.datasets == (str(catalogue.other_published.identifier),)
    with pytest.raises(ValidationError):
        _issue(permit.other, catalogue.own_node, personas["researcher"])


def test_production_without_a_signing_key_refuses_with_the_reason(
    permit, catalogue, personas, settings
):
    settings.SIGNING_KEYS_AUTO_CREATE = False
    with pytest.raises(services.SigningUnavailable, match="signing_keys create"):
        _issue(permit, catalogue.own_node, personas["researcher"])
    assert not AccessToken.objects.exists()

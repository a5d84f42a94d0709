"""Revocation as a node sees it: the token's entry in the published, signed status list follows
the permit (suspended, reactivated, revoked, expired) and the token's own revocation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from access import services
from access.models import Permit
from access.node.statuslist import INVALID, LIST_TYPE, MEDIA_TYPE, SUSPENDED, VALID, StatusList
from portal.models import AuditEvent
from tests.access.conftest import token_claims, verify_published


def _entry(client, token: str, settings) -> int:
    """The token's status, read as a node reads it: the list at the token's ``status`` URI,
    verified against the published JWKS, decompressed, indexed."""
    claims = token_claims(token, client)
    answer = client.get(claims.status_uri.removeprefix(settings.SITE_URL))
    assert answer.status_code == 200
    assert answer["Content-Type"] == MEDIA_TYPE
    assert answer["Cache-Control"] == f"public, max-age={settings.STATUS_LIST_TTL}"
    document = verify_published(answer.content.decode(), LIST_TYPE, client)
    assert document["sub"] == claims.status_uri and document["iss"] == settings.SITE_URL
    assert document["ttl"] == settings.STATUS_LIST_TTL
    assert document["exp"] == document["iat"] + 2 * settings.STATUS_LIST_TTL
    return StatusList.decode(document["status_list"]).get(claims.status_idx)


@pytest.fixture
def issued(permit, catalogue, personas):
    def issue(p=permit, node=None):
        return services.token_issue(
            permit=p, node=node or catalogue.own_node, actor=personas["researcher"]
        ).token

    return issue


def test_suspending_reactivating_and_revoking_a_permit_flip_its_tokens_entries(
    permit, issued, personas, client, settings, catalogue
):
    chair = personas["committee_chair"]
    first, second = issued(), issued()
    elsewhere = issued(permit.other, catalogue.other_node)  # another permit's token
    assert [_entry(client, t, settings) for t in (first, second)] == [VALID, VALID]

    services.permit_change(permit=permit, actor=chair, change="suspend", reason="Audit")
    assert [_entry(client, t, settings) for t in (first, second)] == [SUSPENDED, SUSPENDED]
    assert _entry(client, elsewhere, settings) == VALID
    event = AuditEvent.objects.filter(action="access.permit.suspended").get()
    assert event.details["tokens"] == 2

    services.permit_change(permit=permit, actor=chair, change="reactivate")
    assert [_entry(client, t, settings) for t in (first, second)] == [VALID, VALID]

    services.permit_change(permit=permit, actor=chair, change="revoke", reason="Breach")
    assert [_entry(client, t, settings) for t in (first, second)] == [INVALID, INVALID]
    assert _entry(client, elsewhere, settings) == VALID


def test_a_revoked_token_stays_revoked_when_its_permit_is_reactivated(
    permit, issued, personas, client, settings
):
    chair, researcher = personas["committee_chair"], personas["researcher"]
    revoked, kept = issued(), issued()
    record = permit.tokens.get(jti=token_claims(revoked).jti)
    services.token_revoke(token=record, actor=researcher, reason="Laptop stolen")
    assert [_entry(client, t, settings) for t in (revoked, kept)] == [INVALID, VALID]
    event = AuditEvent.objects.get(action="access.token.revoked")
    assert event.details["reason"] == "Laptop stolen" and event.actor_id == researcher.pk

    services.permit_change(permit=permit, actor=chair, change="suspend", reason="Audit")
    services.permit_change(permit=permit, actor=chair, change="reactivate")
    assert [_entry(client, t, settings) for t in (revoked, kept)] == [INVALID, VALID]


def test_expiring_a_permit_invalidates_its_tokens(permit, issued, client, settings):
    token = issued()
    Permit.objects.filter(pk=permit.pk).update(ends_on=timezone.localdate() - timedelta(days=1))
    services.permits_expire()
    assert _entry(client, token, settings) == INVALID
    assert AuditEvent.objects.get(action="access.permit.expired").details["tokens"] == 1


def test_a_token_is_revoked_only_once_and_only_while_it_lasts(permit, issued, personas):
    researcher = personas["researcher"]
    issued()
    record = permit.tokens.get()
    services.token_revoke(token=record, actor=researcher)
    with pytest.raises(services.InvalidTransition, match="revoked already"):
        services.token_revoke(token=record, actor=researcher)
    issued()
    ended = permit.tokens.filter(revoked_at__isnull=True).get()
    type(ended).objects.filter(pk=ended.pk).update(expires_at=timezone.now())
    with pytest.raises(services.InvalidTransition, match="expired"):
        services.token_revoke(token=ended, actor=researcher)


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("researcher", True),  # the token's and the permit's holder
        ("committee_chair", True),  # the issuing committee's chair
        ("hdab_admin", True),
        ("committee_member", False),
        ("other_researcher", False),
    ],
)
def test_who_may_revoke_a_token(permit, issued, personas, persona, allowed):
    issued()
    record = permit.tokens.get()
    if allowed:
        services.token_revoke(token=record, actor=personas[persona])
    else:
        with pytest.raises(services.NotPermitted):
            services.token_revoke(token=record, actor=personas[persona])


def test_a_list_that_does_not_exist_is_404(db, client):
    assert client.get("/access/status-lists/999").status_code == 404


def test_the_list_holds_every_entry_it_may_hand_out(permit, issued, client, settings):
    settings.STATUS_LIST_SIZE = 16
    token = issued()
    claims = token_claims(token, client)
    answer = client.get(claims.status_uri.removeprefix(settings.SITE_URL))
    entries = StatusList.decode(verify_published(answer.content.decode(), LIST_TYPE)["status_list"])
    assert entries.size == 16
    with pytest.raises(IndexError):  # a node refuses an index beyond the list
        entries.get(16)

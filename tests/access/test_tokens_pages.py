"""From the permit page to a token and what to do with it; refusals with their reasons; revoking
from the page."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from access import services
from access.models import AccessToken, Permit
from tests.access.conftest import token_claims


def _text(response) -> str:
    return unescape(response.content.decode())


def _permit_page(client, permit):
    return client.get(reverse("access:permit_detail", args=[permit.pk]))


def _get_token(client, permit, node):
    return client.post(reverse("access:token_issue", args=[permit.pk]), {"node": node.pk})


def _token_in(page: str) -> str:
    match = re.search(r'<textarea id="access-token"[^>]*>([^<]+)</textarea>', page)
    assert match, "no token on the page"
    return match.group(1).strip()


def test_a_researcher_goes_from_the_permit_to_a_token_and_what_to_do_with_it(
    permit, catalogue, client_for, settings
):
    researcher = client_for("researcher")
    page = _text(_permit_page(researcher, permit))
    assert "Get an access token" in page
    assert 'action="{}"'.format(reverse("access:token_issue", args=[permit.pk])) in page
    assert f'value="{catalogue.own_node.pk}"' in page and catalogue.published.title in page
    assert f'value="{catalogue.other_node.pk}"' not in page  # the permit grants nothing there
    assert '<label for="token-node_0"' in page  # each node's choice is labelled

    answer = _get_token(researcher, permit, catalogue.own_node)
    assert answer.status_code == 200
    assert answer["Cache-Control"] == "no-store"  # shown once: no cache keeps it
    page = _text(answer)
    token = _token_in(page)
    claims = token_claims(token)
    assert claims.aud == catalogue.own_node.audience and claims.permit == permit.number
    assert '<label for="access-token">Access token</label>' in page
    assert "shown only this once" in page
    base = catalogue.own_node.dicomweb_base_url
    assert f'<code id="dicomweb-base-url">{base}</code>' in page
    assert f'curl -H "Authorization: Bearer $ECII_TOKEN" "{base}/studies?limit=20"' in page
    assert "from dicomweb_client.api import DICOMwebClient" in page
    assert f'url="{base}"' in page
    assert token not in page.split("</textarea>", 1)[1]  # the examples never hold the token
    record = AccessToken.objects.get(jti=claims.jti)
    assert f"{record.expires_at:%Y-%m-%d %H:%M}" in page  # when it ends
    assert "60 minutes from now" in page
    assert "get a new token from the permit page" in page
    assert reverse("access:token_revoke", args=[record.pk]) in page
    assert "<script" not in page and " style=" not in page

    # Back on the permit page: the token is listed (never shown again) and can be revoked.
    page = _text(_permit_page(researcher, permit))
    assert token not in page
    assert reverse("access:token_revoke", args=[record.pk]) in page


def test_the_page_says_why_no_token_can_be_issued(permit, catalogue, client_for, personas):
    services.permit_change(
        permit=permit, actor=personas["committee_chair"], change="suspend", reason="Audit"
    )
    researcher = client_for("researcher")
    page = _text(_permit_page(researcher, permit))
    assert "Get an access token" not in page
    assert f"No access token can be issued now: Permit {permit.number} is suspended" in page
    # Posting anyway (an old page): refused with the same reason, nothing issued.
    answer = _get_token(researcher, permit, catalogue.own_node)
    assert answer.status_code == 200
    assert f"Permit {permit.number} is suspended" in _text(answer)
    assert not AccessToken.objects.exists()


def test_a_person_who_sees_the_permit_but_is_not_named_on_it_is_told_so(
    permit, catalogue, client_for
):
    chair = client_for("committee_chair")
    assert "Get an access token" not in _text(_permit_page(chair, permit))
    answer = _get_token(chair, permit, catalogue.own_node)
    assert answer.status_code == 403
    assert "issued only to the people it authorises" in _text(answer)
    assert _get_token(client_for("outsider"), permit, catalogue.own_node).status_code == 404
    assert not AccessToken.objects.exists()


def test_only_nodes_the_permit_grants_are_offered(permit, catalogue, client_for):
    answer = _get_token(client_for("researcher"), permit, catalogue.other_node)
    assert answer.status_code == 200 and "Select a valid choice" in _text(answer)
    answer = client_for("researcher").post(reverse("access:token_issue", args=[permit.pk]))
    assert "Choose the node." in _text(answer)
    assert not AccessToken.objects.exists()


def test_a_token_is_revoked_from_the_permit_page(permit, catalogue, client_for, settings):
    researcher = client_for("researcher")
    _get_token(researcher, permit, catalogue.own_node)
    record = AccessToken.objects.get()
    answer = researcher.post(reverse("access:token_revoke", args=[record.pk]), follow=True)
    page = _text(answer)
    ttl = settings.STATUS_LIST_TTL
    assert f"nodes refuse it within {ttl} seconds ({2 * ttl} where a shared cache" in page
    record.refresh_from_db()
    assert record.status == AccessToken.Status.INVALID and record.revoked_at
    assert reverse("access:token_revoke", args=[record.pk]) not in page
    assert "Revoked" in page


def test_the_committee_sees_who_got_tokens_and_a_member_cannot_revoke(
    permit, catalogue, client_for, personas
):
    _get_token(client_for("researcher"), permit, catalogue.own_node)
    record = AccessToken.objects.get()
    member_page = _text(_permit_page(client_for("committee_member"), permit))
    assert "Issued to" in member_page and personas["researcher"].display_name in member_page
    assert reverse("access:token_revoke", args=[record.pk]) not in member_page
    chair_page = _text(_permit_page(client_for("committee_chair"), permit))
    assert reverse("access:token_revoke", args=[record.pk]) in chair_page
    answer = client_for("committee_member").post(reverse("access:token_revoke", args=[record.pk]))
    assert answer.status_code == 404


def _queries(client, permit) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert _permit_page(client, permit).status_code == 200
    return len(queries)


@pytest.mark.parametrize("persona", ["researcher", "committee_chair"])
def test_the_permit_page_reads_its_tokens_in_a_bounded_number_of_queries(
    permit, catalogue, client_for, personas, persona
):
    client = client_for(persona)
    services.token_issue(permit=permit, node=catalogue.own_node, actor=personas["researcher"])
    few = _queries(client, permit)
    for _ in range(25):
        services.token_issue(permit=permit, node=catalogue.own_node, actor=personas["researcher"])
    assert _queries(client, permit) == few
    assert Permit.objects.get(pk=permit.pk).tokens.count() == 26


def test_every_live_token_is_listed_and_the_older_ended_ones_counted(
    permit, catalogue, client_for, personas, monkeypatch
):
    """Whoever revokes the tokens after a leak sees every one still valid, however many were
    issued since."""
    from datetime import timedelta

    from django.utils import timezone

    def issue(n):
        return [
            services.token_issue(
                permit=permit, node=catalogue.own_node, actor=personas["researcher"]
            )
            for _ in range(n)
        ]

    oldest_live = issue(3)
    ended = issue(23)
    AccessToken.objects.filter(pk__in=[t.record.pk for t in ended]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    issue(20)  # newer than all the ended ones
    page = _text(_permit_page(client_for("researcher"), permit))
    for token in oldest_live:  # older than 20 newer tokens, still listed with its revoke button
        assert reverse("access:token_revoke", args=[token.record.pk]) in page
    assert page.count(">Revoke</button>") == 23
    assert page.count("<td>Expired</td>") == 20
    assert "3 older tokens, expired or revoked, are not listed." in page

    monkeypatch.setattr("access.views.tokens.LIVE_TOKENS", 20)
    page = _text(_permit_page(client_for("researcher"), permit))
    assert page.count(">Revoke</button>") == 20
    assert "3 more tokens are still valid and not listed here" in page

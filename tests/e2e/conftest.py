"""A real Chromium (Debian's package) driven by Playwright against the live test server."""

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if not AXE.exists():
        return "axe-core is not installed (make test runs npm ci in tests/e2e)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return ""


@pytest.fixture(scope="module")
def browser():
    problem = _missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in the test thread; the tests' own database
    # calls are still synchronous and safe. Only for these tests: the flag must not leak.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.csp_errors = []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and page.csp_errors.append(message.text)
        ),
    )
    yield page
    context.close()


def axe_violations(page, *, impacts=("serious", "critical")) -> list[str]:
    """Run axe-core in the page and return the serious or critical rule violations."""
    # Evaluated through the browser's debugging protocol: the page's own CSP (no inline
    # script) stays in force and is itself under test.
    page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in impacts
    ]


PHONE = {"width": 375, "height": 812}  # a small phone, in CSS pixels


@pytest.fixture
def phone(browser, live_server):
    """A page 375 CSS pixels wide, as on a small phone."""
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def login(page, username: str) -> None:
    """Sign in through the login page and wait for the dashboard."""
    from tests.factories import PASSWORD

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/**")


@pytest.fixture
def world(access, personas):
    """The access area filled in for the browser: ``access``'s draft and submitted
    applications, one with permits from both committees, and an invitation to the citizen.
    Gives the URLs of the pages by name."""
    from django.urls import reverse

    from access import services
    from access.models import Permit, Review

    chair = personas["committee_chair"]
    decided = access.new_application("Study with a permit", submit=True)
    for review in decided.reviews.all():
        services.review_decide(review=review, actor=chair, approve=True)
    permit = Permit.objects.filter(application=decided).order_by("pk").first()
    # Its decision is in the public register, with results for one permit
    services.decision_publish(
        application=decided, actor=personas["hdab_admin"], justification="A lawful purpose."
    )
    services.results_update(
        permit=permit, actor=personas["researcher"], lay_summary="Tumours were found earlier."
    )
    services.result_output_add(
        permit=permit, actor=personas["researcher"], kind="publication", title="The paper",
        reference="10.5555/ecii.1",
    )  # fmt: skip
    invitation = services.team_invite(
        application=access.new_application("Invited study"),
        actor=personas["researcher"],
        email=personas["citizen"].email,
    )
    services.comment_add(
        application=access.submitted, actor=chair, body="Which scanners?",
        visible_to_applicant=True, committee=access.oslo,
    )  # fmt: skip
    oslo = Review.objects.get(application=access.submitted, committee=access.oslo)
    _donor_world(personas, permit)
    urls = {
        "applications": reverse("access:application_list"),
        "new_application": reverse("access:application_create"),
        "edit_draft": reverse("access:application_edit", args=[access.draft.pk]),
        "submitted": reverse("access:application_detail", args=[access.submitted.pk]),
        "decided": reverse("access:application_detail", args=[decided.pk]),
        "withdraw": reverse("access:application_withdraw", args=[access.submitted.pk]),
        "permits": reverse("access:permit_list"),
        "permit": reverse("access:permit_detail", args=[permit.pk]),
        "committees": reverse("access:committee_list"),
        "committee": reverse("access:committee_detail", args=[access.oslo.pk]),
        "new_committee": reverse("access:committee_create"),
        "invitation": reverse("access:invitation", args=[invitation.token]),
        "donor_uses": reverse("access:donor_uses"),
        "register": reverse("access:register"),
        "register_entry": reverse("access:register_entry", args=[decided.pk]),
        "citizen_information": reverse("access:citizen_information"),
        "permit_results": reverse("access:permit_results", args=[permit.pk]),
        "results_extend": reverse("access:results_extend", args=[permit.pk]),
    }
    return SimpleNamespace(urls=urls, oslo_review=oslo, permit=permit, access=access)


@pytest.fixture
def donor_world(personas, catalogue):
    """The citizen's images at Oslo (``oslo-7``) linked to their account, and their donation
    of them. Gives the URLs of the consent pages by name."""
    from django.urls import reverse

    from consent import services

    _link_code, code = services.link_code_issue(
        node=catalogue.own_node, subject="oslo-7", actor=personas["node_operator"]
    )
    link = services.link_code_redeem(citizen=personas["citizen"], code=code)
    services.donation_create(
        citizen=personas["citizen"],
        nodes=[catalogue.own_node],
        categories=["imaging"],
        purposes=["research"],
        duo_codes=["DUO:0000006", "DUO:0000046"],
    )
    urls = {
        "donation": reverse("consent:donation_form"),
        "donation_withdraw": reverse("consent:donation_withdraw"),
        "opt_out": reverse("consent:opt_out_record"),
        "history": reverse("consent:history"),
        "links": reverse("consent:links"),
        "unlink": reverse("consent:link_remove", args=[link.pk]),
        "link_code_nodes": reverse("consent:link_code_nodes"),
        "link_codes": reverse("consent:link_codes", args=[catalogue.own_node.pk]),
    }
    return SimpleNamespace(urls=urls, link=link)


def _donor_world(personas, permit) -> None:
    """The citizen linked at the node of ``permit``'s first dataset, with a study in it, and a
    served and a refused request for that study reported by the node (the token that was
    served is revoked since)."""
    import time

    from joserfc.jwk import ECKey

    from access import services
    from access.node.portal_link import sign_report
    from access.node.reasons import Reason
    from access.node.reports import AccessEvent, batch_claims
    from catalogue.models import Study
    from consent import services as consent_services

    dataset = permit.datasets.select_related("node").first()
    node, operator = dataset.node, personas["node_operator"]
    uid = "1.2.826.0.1.3680043.8.498.900"
    Study.objects.create(dataset=dataset, study_instance_uid=uid, subject="DONOR-E2E")
    node.operators.add(operator)
    _code, text = consent_services.link_code_issue(node=node, subject="DONOR-E2E", actor=operator)
    consent_services.link_code_redeem(citizen=personas["citizen"], code=text)
    token = services.token_issue(permit=permit, node=node, actor=personas["researcher"]).record
    key = ECKey.generate_key("P-256", private=True)
    services.node_key_register(node=node, jwk={**key.as_dict(private=False), "kid": "e2e"})
    now = int(time.time())
    events = [
        AccessEvent.recorded(jti=token.jti, study=uid, time=now - 60, reason=None),
        AccessEvent.recorded(jti=None, study=uid, time=now, reason=Reason.MISSING_TOKEN),
    ]
    claims = batch_claims(node=node.audience, events=events, iat=now)
    signed = sign_report(claims, {**key.as_dict(private=True), "kid": "e2e"})
    services.access_report_receive(node=node, document=signed.encode())
    # Done with: the permit page's own token tests start from no valid token.
    services.token_revoke(token=token, actor=personas["researcher"], reason="Study read.")

"""From a permit to the images, with the real portal: the portal (pytest-django's live server)
and a real node (Orthanc with DICOMweb, nginx and the gatekeeper, ``tests/node/harness.py``).

The node holds the de-identified studies of two datasets, and the portal's catalogue indexes the
same DICOM files through its own ingest, so the study map it signs lists them. The node is
registered as docs/node.md tells an operator (``manage.py node_credentials``, the gatekeeper's
``new-key``), and its gatekeeper is configured with the portal's JWKS, study map and reports
endpoint (status lists come from the tokens). A researcher holds a permit for one of the two
datasets; with the token the portal gives them, and the instructions on its token page, a real
DICOMweb client (dicomweb-client) reads that dataset's images and nothing else.

Orthanc and nginx start once for the module. The portal's database is emptied after each test
(live server, transactional database), so each test registers the node again and starts its
own gatekeeper on the port nginx asks.
"""

import base64
import html
import io
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from django.core.management import call_command
from django.test import Client

from access import services
from access.models import ExclusionEntry, NodeAccessEvent, NodeAccessReport, Permit
from access.node import config as node_config
from access.node.portal_link import AccessReporter, StudyMapStore, basic_credentials
from access.node.reasons import Reason
from access.node.reports import AccessEvent
from access.node.verifier import Verifier
from catalogue import duo
from catalogue.ingest import ingest_paths
from catalogue.models import Study as IndexedStudy
from catalogue.services import dataset_create, node_create
from consent import services as consent_services
from portal.audit import verify_chain
from portal.models import AuditEvent
from tests.catalogue.dicom_factory import uid
from tests.conftest import complete_application_fields, dataset_fields
from tests.node.harness import (
    GatekeeperProcess,
    Nginx,
    Orthanc,
    PortalLink,
    Study,
    free_port,
    new_report_key,
    start_orthanc,
)

AUDIENCE = "urn:ecii:node:integration"
ELSEWHERE = "urn:ecii:node:elsewhere"
STATUS_TTL = 2  # seconds: the portal's STATUS_LIST_TTL in these tests
LEEWAY = 1  # seconds of clock skew the gatekeeper allows on token times
MARGIN = 1.0  # seconds after the ttl, or a token's end, by which the node must refuse


@dataclass
class ImageNode:
    """Orthanc with the studies of both datasets, behind nginx, which asks the gatekeeper on
    ``gatekeeper_port`` (each test starts one there)."""

    root: Path
    orthanc: Orthanc
    nginx: Nginx
    gatekeeper_port: int
    studies: dict[str, list[Study]]  # "permitted" and "other"

    @property
    def dicomweb(self) -> str:
        return self.nginx.url + "/dicom-web"

    def folder(self, group: str) -> Path:
        return self.root / "dicom" / group


@pytest.fixture(scope="module")
def image_node(tmp_path_factory):
    root = tmp_path_factory.mktemp("image-node")
    # The other dataset's studies are stored first: a search that filtered after paging would
    # come back short.
    orthanc, studies = start_orthanc(
        root, {"other": ["SUBJ-O0", "SUBJ-O1"], "permitted": ["SUBJ-P0", "SUBJ-P1"]}
    )
    gatekeeper_port = free_port()
    nginx = Nginx(root / "nginx", orthanc_port=orthanc.http_port, gatekeeper_port=gatekeeper_port)
    try:
        nginx.start()
    except BaseException:
        orthanc.process.stop()
        raise
    yield ImageNode(root, orthanc, nginx, gatekeeper_port, studies)
    nginx.process.stop()
    orthanc.process.stop()


def _printed_secret(output: str) -> str:
    match = re.search(r"^secret:\s+(\S+)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


@pytest.fixture
def portal(image_node, live_server, settings, personas, tmp_path):
    """The portal, live, with the node registered and its gatekeeper running against it; an
    active permit, held by ``researcher``, for the "permitted" dataset and for a dataset at
    another node, issued by a committee whose chair is ``committee_chair``."""
    settings.SITE_URL = live_server.url
    settings.STATUS_LIST_TTL = STATUS_TTL
    settings.EXCLUSION_LIST_TTL = STATUS_TTL
    node = node_create(
        actor=None,
        operators=[personas["node_operator"]],
        name="Integration imaging node",
        slug="integration",
        organisation="University Hospital",
        country="NO",
        contact_email="node@example.org",
        dicomweb_base_url=image_node.dicomweb,
        audience=AUDIENCE,
    )
    elsewhere = node_create(
        actor=None,
        name="Another imaging node",
        slug="elsewhere",
        organisation="Another Hospital",
        country="ES",
        contact_email="node@elsewhere.example.org",
        dicomweb_base_url="https://elsewhere.example.org/dicom-web",
        audience=ELSEWHERE,
    )
    datasets = {
        group: dataset_create(
            node=node, actor=None, status="published", **dataset_fields(title=f"Chest CT {group}")
        )
        for group in ("permitted", "other")
    }
    far = dataset_create(
        node=elsewhere, actor=None, status="published", **dataset_fields(title="Chest CT far")
    )
    # The catalogue indexes the very files the node holds, through the portal's ingest.
    for group, dataset in datasets.items():
        report = ingest_paths(dataset=dataset, paths=[image_node.folder(group)], workers=1)
        assert report.new_studies == len(image_node.studies[group]), report.counts()
        assert not report.refused and not report.unreadable

    # One committee governs both nodes: the researcher applies for one dataset here and one
    # elsewhere, and the chair approves.
    chair, researcher = personas["committee_chair"], personas["researcher"]
    committee = services.committee_create(
        actor=None, name="Imaging DAC", decision_rule="chair", nodes=[node, elsewhere]
    )
    services.committee_add_member(committee=committee, user=chair, actor=None, chair=True)
    application = services.application_create(
        applicant=researcher, title="Nodule detection", datasets=[datasets["permitted"], far]
    )
    application = services.application_update(
        application=application, actor=researcher, **complete_application_fields()
    )
    application = services.application_submit(application=application, actor=researcher)
    for review in application.reviews.all():
        services.review_decide(review=review, actor=chair, approve=True)
    permit = Permit.objects.get(application=application)
    assert permit.status == Permit.Status.ACTIVE

    # The node's registration, as docs/node.md tells its operator: a secret from the portal,
    # a report-signing key made by the gatekeeper, its public half registered at the portal.
    printed = io.StringIO()
    call_command("node_credentials", "secret", "integration", stdout=printed)
    key_file, public_file = tmp_path / "report-key.jwk", tmp_path / "report-key.pub.jwk"
    public_file.write_text(json.dumps(new_report_key(key_file)))
    call_command("node_credentials", "key", AUDIENCE, str(public_file), stdout=io.StringIO())
    link = PortalLink(
        issuer=live_server.url,
        audience=AUDIENCE,
        client_secret=_printed_secret(printed.getvalue()),
        jwks_url=f"{live_server.url}/.well-known/jwks.json",
        study_map_url=f"{live_server.url}/access/nodes/{AUDIENCE}/study-map",
        reports_url=f"{live_server.url}/access/nodes/reports",
    )
    gatekeeper = GatekeeperProcess(
        tmp_path / "gatekeeper",
        link,
        operators={},
        port=image_node.gatekeeper_port,
        key_file=key_file,
        orthanc_url=image_node.orthanc.url,
        leeway=LEEWAY,
        report_interval=0.2,
    )
    gatekeeper.start()  # ready once it has synced the portal's study map
    yield SimpleNamespace(
        node=node,
        datasets=datasets,
        permit=permit,
        researcher=researcher,
        chair=chair,
        gatekeeper=gatekeeper,
    )
    gatekeeper.process.stop()


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api_token(portal, node: str = "integration") -> dict:
    """A token through the API, as the researcher asks for it."""
    answer = _signed_in(portal.researcher).post(
        f"/api/access/permits/{portal.permit.pk}/tokens/",
        json.dumps({"node": node}),
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    return answer.json()


def _client(base_url: str, token: str | None) -> DICOMwebClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return DICOMwebClient(url=base_url, headers=headers)


def _uids(results) -> set[str]:
    return {study["0020000D"]["Value"][0] for study in results}


def _refused(call, *args, **kwargs) -> requests.Response:
    with pytest.raises(requests.HTTPError) as refusal:
        call(*args, **kwargs)
    return refusal.value.response


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _element(page: str, element_id: str) -> str:
    """The text of the element with ``element_id`` on a page, as a browser shows it."""
    match = re.search(rf'<(\w+) id="{element_id}"[^>]*>(.*?)</\1>', page, re.DOTALL)
    assert match, f"the page has no element {element_id}"
    return html.unescape(match.group(2))


# --- The researcher's way ---------------------------------------------------------------------


def test_a_researcher_goes_from_the_permit_to_the_images_by_following_the_token_page(
    portal, image_node, monkeypatch
):
    researcher = _signed_in(portal.researcher)
    permit_page = researcher.get(f"/access/permits/{portal.permit.pk}/").content.decode()
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*id="token-form"', permit_page)
    assert form and f'value="{portal.node.pk}"' in permit_page  # the node is offered
    page = researcher.post(form.group(1), {"node": portal.node.pk}).content.decode()

    token = _element(page, "access-token").strip()
    base_url = _element(page, "dicomweb-base-url")
    assert base_url == image_node.dicomweb
    # The curl example sends the same header as the Python one, to the same base URL.
    assert f'-H "Authorization: Bearer $ECII_TOKEN" "{base_url}/studies' in _element(
        page, "example-curl"
    )

    # The Python example, run as it stands, with the token in ECII_TOKEN as the page says.
    monkeypatch.setenv("ECII_TOKEN", token)
    ran: dict = {}
    example = compile(_element(page, "example-python"), "the token page's example", "exec")
    exec(example, ran)  # noqa: S102 (the portal's own page)

    permitted = {s.uid: s for s in image_node.studies["permitted"]}
    assert _uids(ran["studies"]) == set(permitted)  # the search lists the permitted studies
    study = permitted[ran["study_uid"]]
    assert {i.SOPInstanceUID for i in ran["instances"]} == {sop for _s, sop in study.instances}
    assert {i.PatientID for i in ran["instances"]} == {study.subject}
    assert [len(frame) for frame in ran["frames"]] == [8 * 8 * 2]  # one frame of 16-bit pixels

    # Through the API: the node's DICOMweb base URL and a token that opens it.
    issued = _api_token(portal)
    assert issued["node"]["dicomweb_base_url"] == image_node.dicomweb
    assert issued["datasets"] == [str(portal.datasets["permitted"].identifier)]
    client = _client(issued["node"]["dicomweb_base_url"], issued["token"])
    for study in image_node.studies["permitted"]:
        instances = client.retrieve_study(study.uid)
        assert {i.SOPInstanceUID for i in instances} == {sop for _s, sop in study.instances}


def test_the_other_datasets_studies_are_refused_and_absent_from_search(portal, image_node):
    client = _client(image_node.dicomweb, _api_token(portal)["token"])
    assert _uids(client.search_for_studies()) == {s.uid for s in image_node.studies["permitted"]}
    pages = [client.search_for_studies(limit=1, offset=offset) for offset in range(3)]
    assert [len(page) for page in pages] == [1, 1, 0]
    for study in image_node.studies["other"]:
        series, sop = study.instances[0]
        for call, args in (
            (client.retrieve_study, (study.uid,)),
            (client.retrieve_study_metadata, (study.uid,)),
            (client.retrieve_instance, (study.uid, series, sop)),
            (client.search_for_series, (study.uid,)),
        ):
            answer = _refused(call, *args)
            assert answer.status_code == 403, call
            challenge = answer.headers["WWW-Authenticate"]
            assert challenge == (
                'Bearer realm="dicomweb", error="insufficient_scope", '
                'error_description="study_not_permitted"'
            )
        assert client.search_for_studies(search_filters={"StudyInstanceUID": study.uid}) == []
        assert client.search_for_studies(search_filters={"PatientID": study.subject}) == []


# --- Refusals ---------------------------------------------------------------------------------


def _tampered(token: str, dataset: str) -> str:
    """The token with another dataset added to its claims, and its original signature."""
    header, _payload, signature = token.split(".")
    claims = _claims(token)
    claims["datasets"].append(dataset)
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return ".".join([header, payload, signature])


def test_no_token_an_expired_one_another_nodes_and_a_tampered_one_are_refused(
    portal, image_node, settings
):
    study = image_node.studies["permitted"][0]
    settings.ACCESS_TOKEN_LIFETIME = 2  # the portal told to issue short tokens
    short = _api_token(portal)["token"]
    settings.ACCESS_TOKEN_LIFETIME = 3600
    assert len(_client(image_node.dicomweb, short).retrieve_study(study.uid)) == 2

    elsewhere = _api_token(portal, node="elsewhere")
    assert elsewhere["node"]["audience"] == ELSEWHERE
    other_dataset = str(portal.datasets["other"].identifier)
    refusals = {
        "no token": (None, None),
        "another node's": (elsewhere["token"], "wrong_audience"),
        "tampered": (_tampered(_api_token(portal)["token"], other_dataset), "bad_signature"),
        "expired": (short, "expired"),
    }
    # By now, or soon, the short token has ended, leeway included.
    time.sleep(max(0.0, _claims(short)["exp"] + LEEWAY + 0.2 - time.time()))
    for name, (token, reason) in refusals.items():
        client = _client(image_node.dicomweb, token)
        for call, args in ((client.retrieve_study, (study.uid,)), (client.search_for_studies, ())):
            answer = _refused(call, *args)
            assert answer.status_code == 401, name
            challenge = answer.headers["WWW-Authenticate"]
            if reason is None:
                assert challenge == 'Bearer realm="dicomweb"', name
            else:
                expected = f'error="invalid_token", error_description="{reason}"'
                assert challenge == f'Bearer realm="dicomweb", {expected}', name


def test_after_the_chair_revokes_the_permit_the_node_refuses_within_the_status_lists_ttl(
    portal, image_node
):
    client = _client(image_node.dicomweb, _api_token(portal)["token"])
    study = image_node.studies["permitted"][0]
    series, sop = study.instances[0]

    def served() -> bool:
        try:
            client.retrieve_instance_metadata(study.uid, series, sop)
        except requests.HTTPError as error:
            challenge = error.response.headers["WWW-Authenticate"]
            assert error.response.status_code == 401 and "revoked" in challenge, challenge
            return False
        return True

    assert served()  # the node has fetched the status list now, and may keep it for its ttl
    chair = _signed_in(portal.chair)
    answer = chair.post(
        f"/access/permits/{portal.permit.pk}/change/",
        {"change": "revoke", "reason": "The data was copied out.", "confirmed": "yes"},
    )
    assert answer.status_code == 302
    revoked = time.monotonic()
    portal.permit.refresh_from_db()
    assert portal.permit.status == Permit.Status.REVOKED

    # Served, perhaps, while the node's copy of the list lasts; refused once it has expired.
    answers = []  # (seconds after the revocation when asked, served)
    while not answers or answers[-1][0] < STATUS_TTL + MARGIN:
        asked = time.monotonic() - revoked
        answers.append((asked, served()))
        time.sleep(0.1)
    # The node fetched the list before the revocation: a request made a ttl after it is refused
    # (0.2 s for clocks that count whole seconds), and once refused, the token stays refused.
    assert not any(ok for asked, ok in answers if asked >= STATUS_TTL + 0.2), answers
    refused_from = min(asked for asked, ok in answers if not ok)
    assert all(not ok for asked, ok in answers if asked >= refused_from), answers
    assert _refused(client.search_for_studies).status_code == 401


# --- Consent ----------------------------------------------------------------------------------


def test_a_subject_who_withdraws_is_refused_at_the_node_within_the_lists_ttl(
    portal, image_node, personas
):
    """A patient of the permitted dataset links their images to their account with the code
    the node's operator gives them, donates, and withdraws: within the exclusion list's ttl the
    node refuses their study at every level and leaves it out of search, while the other
    subject's study stays; the refusal reaches the portal's access log with its reason."""
    withdrawn, stays = image_node.studies["permitted"]
    citizen, operator = personas["citizen"], personas["node_operator"]
    _link, code = consent_services.link_code_issue(
        node=portal.node, subject=withdrawn.subject, actor=operator
    )
    consent_services.link_code_redeem(citizen=citizen, code=code)
    donation = consent_services.donation_create(
        citizen=citizen,
        nodes=[portal.node],
        categories=["imaging"],
        purposes=["research"],
        duo_codes=[duo.HMB],
    )
    issued = _api_token(portal)
    client = _client(image_node.dicomweb, issued["token"])
    series, sop = withdrawn.instances[0]

    def served() -> bool:
        try:
            client.retrieve_instance_metadata(withdrawn.uid, series, sop)
        except requests.HTTPError as error:
            challenge = error.response.headers["WWW-Authenticate"]
            assert error.response.status_code == 403, challenge
            assert 'error_description="subject_excluded"' in challenge, challenge
            return False
        return True

    # The donation allows the permit's use: served, and the node holds the list now.
    assert served()
    assert _uids(client.search_for_studies()) == {withdrawn.uid, stays.uid}

    consent_services.donation_withdraw(record=donation.record, citizen=citizen)
    withdrew = time.monotonic()
    standing = ExclusionEntry.objects.filter(node=portal.node, removed_in__isnull=True)
    assert list(standing.filter(subject=withdrawn.subject).values_list("kind", flat=True)) == [
        ExclusionEntry.Kind.SUBJECT
    ]

    answers = []  # (seconds after the withdrawal when asked, served)
    while not answers or answers[-1][0] < STATUS_TTL + MARGIN:
        answers.append((time.monotonic() - withdrew, served()))
        time.sleep(0.1)
    assert not any(ok for asked, ok in answers if asked >= STATUS_TTL + 0.2), answers
    refused_from = min(asked for asked, ok in answers if not ok)
    assert all(not ok for asked, ok in answers if asked >= refused_from), answers

    # Refused at every level, absent from search; the other subject's study stays.
    for call, args in (
        (client.retrieve_study, (withdrawn.uid,)),
        (client.search_for_series, (withdrawn.uid,)),
        (client.retrieve_instance, (withdrawn.uid, series, sop)),
    ):
        assert _refused(call, *args).status_code == 403, call
    assert _uids(client.search_for_studies()) == {stays.uid}
    assert client.search_for_studies(search_filters={"PatientID": withdrawn.subject}) == []
    kept = client.retrieve_study(stays.uid)
    assert {i.PatientID for i in kept} == {stays.subject}

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        refusals = NodeAccessEvent.objects.filter(
            token_jti=issued["jti"], study_instance_uid=withdrawn.uid, reason="subject_excluded"
        )
        if refusals.exists():
            break
        time.sleep(0.2)
    assert refusals.exists(), "the node's refusal did not reach the portal's access log"


# --- What the node tells the portal -----------------------------------------------------------


def test_the_nodes_access_reports_reach_the_portal_and_its_audit_chain(portal, image_node):
    issued = _api_token(portal)
    client = _client(image_node.dicomweb, issued["token"])
    permitted, other = image_node.studies["permitted"][0], image_node.studies["other"][0]
    client.retrieve_study_metadata(permitted.uid)
    assert _refused(client.retrieve_study_metadata, other.uid).status_code == 403

    deadline = time.monotonic() + 10
    events: dict = {}
    while len(events) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        events = {
            (e.study_instance_uid, e.decision): e
            for e in NodeAccessEvent.objects.filter(token_jti=issued["jti"])
        }
    allowed = events[(permitted.uid, NodeAccessEvent.Decision.ALLOWED)]
    refused = events[(other.uid, NodeAccessEvent.Decision.REFUSED)]
    assert (allowed.reason, refused.reason) == ("", "study_not_permitted")
    assert allowed.node == refused.node == portal.node
    assert allowed.token_id == refused.token_id == issued["id"]  # the portal's token record
    assert abs(allowed.time.timestamp() - time.time()) < 30

    batches = NodeAccessReport.objects.filter(events__in=[allowed, refused]).distinct()
    audited = AuditEvent.objects.filter(action="access.node.report_received")
    assert {batch.jti for batch in batches} <= {event.details["batch"] for event in audited}
    assert verify_chain().ok


def test_a_busy_nodes_report_batches_are_all_taken_by_the_portal(portal, tmp_path):
    """The node cuts its reports into batches by count and size; the portal reads each one,
    the largest included (long token ids, 64-character UIDs, refusals with their reason)."""
    config = node_config.load(portal.gatekeeper.config)
    reporter = AccessReporter(
        url=config.reports_url,
        node=config.audience,
        authorization=basic_credentials(config.audience, config.client_secret),
        signing_key=config.signing_key,
        spool=tmp_path / "spool",
        batch_max=config.report_batch_max,
    )
    now, many = int(time.time()), 3000
    for n in range(many):
        reporter.record(
            AccessEvent.recorded(
                jti=f"{n:04d}" + "j" * 196,
                study=uid(),
                time=now,
                reason=Reason.STUDY_NOT_PERMITTED if n % 2 else None,
            )
        )
    batches = reporter.seal()
    assert batches > 1
    assert reporter.send() == batches  # every batch taken
    assert not list((tmp_path / "spool").rglob("*.jwt"))  # none waiting, none set aside
    stored = NodeAccessEvent.objects.filter(token_jti__endswith="j" * 196)
    assert stored.count() == many
    assert stored.filter(decision=NodeAccessEvent.Decision.REFUSED).count() == many // 2


def test_a_node_with_tens_of_thousands_of_studies_syncs_its_study_map(portal):
    """A hospital's node may hold tens of thousands of studies; the study map lists every one
    (about 160 bytes each, signed), and the node must still read it: past 4 MiB it used to
    refuse the map, and then every study."""
    many = 30_000
    IndexedStudy.objects.bulk_create(
        (
            IndexedStudy(
                dataset=portal.datasets["other"], study_instance_uid=uid(), subject=f"S-{n:06d}"
            )
            for n in range(many)
        ),
        batch_size=5000,
    )
    # The gatekeeper's own map store, on its configuration.
    config = node_config.load(portal.gatekeeper.config)
    store = StudyMapStore(
        url=config.study_map_url,
        audience=config.audience,
        authorization=basic_credentials(config.audience, config.client_secret),
        reader=Verifier(issuer=config.issuer, audience=config.audience, jwks_url=config.jwks_url),
    )
    assert len(store.sync().studies) == many + 4

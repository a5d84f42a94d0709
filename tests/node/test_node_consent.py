"""The consent exclusion list at a real node (Orthanc with DICOMweb behind nginx and the
gatekeeper) against the stand-in portal: a subject the portal lists as withdrawn loses their
study at every level and in search within the list's ttl, and a permit the list does not know
is refused."""

import time

import pytest

from tests.node.harness import start_node
from tests.node.test_node import STATUS_TTL, _paths_below, challenge, get, researcher, uids


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = start_node(tmp_path_factory.mktemp("node"), permitted=3, other=1, unmapped=1)
    node.portal.ttl = STATUS_TTL
    yield node
    node.stop()


@pytest.fixture
def token(node):
    return node.portal.token(datasets=[node.permitted_dataset])


def test_a_withdrawn_subjects_study_is_refused_and_hidden_within_the_lists_ttl(node, token):
    """The exclusion list is fetched like the status list: within its ttl after the portal
    lists a withdrawn subject, their study is refused at every level and missing from search;
    the other subjects' studies stay."""
    client = researcher(node, token)
    withdrawn, stays = node.permitted[0], node.permitted[1]
    assert withdrawn.uid in uids(client.search_for_studies())
    node.portal.exclude(withdrawn.subject)
    try:
        time.sleep(STATUS_TTL + 0.5)  # the node's copy of the list has expired
        for path in _paths_below(withdrawn):
            status, headers, body = get(node, path, token)
            assert status == 403, (path, status, body[:200])
            assert 'error_description="subject_excluded"' in challenge(headers)
            assert b"DICM" not in body
        found = uids(client.search_for_studies())
        assert withdrawn.uid not in found
        assert found == {s.uid for s in node.permitted if s is not withdrawn}
        assert client.search_for_studies(search_filters={"StudyInstanceUID": withdrawn.uid}) == []
        assert len(client.retrieve_study(stays.uid)) == len(stays.instances)
        # Another permit's token (one the list does not know) is refused: fail closed.
        unknown = node.portal.token(datasets=[node.permitted_dataset], permit="PERMIT-UNKNOWN")
        status, headers, _body = get(node, f"/dicom-web/studies/{stays.uid}", unknown)
        assert status == 401 and "permit_not_in_exclusions" in challenge(headers)
    finally:
        with node.portal.lock:
            node.portal.excluded_subjects.clear()
            node.portal.exclusions_version += 1

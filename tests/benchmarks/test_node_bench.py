"""The cost of governance at the node: DICOMweb retrieval through nginx and the gatekeeper
against the same Orthanc reached directly, in the same run (issue 9, benchmark 7(d)).

A real node (``tests/node/harness.py``) holds one study of one series of CT-sized instances
(512 × 512, 16 bits: about 0.5 MB each). Measured over one kept-alive connection each:

- single instances: WADO-RS of one instance after another; the median time per instance through
  the node's public door divided by the median direct time. Target: at most 1.1.
- a whole series: WADO-RS of the series (one multipart answer); throughput through the door
  divided by direct throughput. Target: the same (about 1.0).

For reference, the same requests also go through nginx alone (the node's proxy settings, no
``auth_request``), and through nginx with an ``auth_request`` that nginx answers itself: the
steps from direct to the door show what the proxy, the subrequest and the gatekeeper each
cost. Rounds are interleaved and the best round of each counts (the machine
is shared). Timings are printed, never asserted.
"""

import http.client
import statistics
import time

import pytest

from tests.node.harness import Nginx, start_node

INSTANCES = 48
ROUNDS = 5
SINGLE_PER_ROUND = 200
SERIES_PER_ROUND = 3
ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
# The node's proxy settings (access/node/conf/nginx-locations.conf) without the gatekeeper.
PLAIN_PROXY = """
proxy_http_version 1.1;
proxy_buffers 16 256k;
proxy_buffer_size 256k;
proxy_busy_buffers_size 512k;
location / {
    proxy_set_header Connection "";
    proxy_pass http://ecii_orthanc;
}
"""
# The same with an auth_request nginx answers itself: what asking anyone costs, before the
# gatekeeper is asked.
EMPTY_AUTH = (
    PLAIN_PROXY
    + """
auth_request /_yes;
location = /_yes {
    internal;
    return 204;
}
"""
)


def _get(connection, path, headers) -> int:
    connection.request("GET", path, headers=headers)
    answer = connection.getresponse()
    body = answer.read()
    assert answer.status == 200, (answer.status, body[:300])
    return len(body)


def _singles(port, paths, headers) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    _get(connection, paths[0], headers)  # warm the connection (and the gatekeeper's caches)
    times = []
    for i in range(SINGLE_PER_ROUND):
        start = time.perf_counter()
        _get(connection, paths[i % len(paths)], headers)
        times.append(time.perf_counter() - start)
    connection.close()
    return statistics.median(times)


def _series(port, path, headers) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    _get(connection, path, headers)
    size, start = 0, time.perf_counter()
    for _ in range(SERIES_PER_ROUND):
        size += _get(connection, path, headers)
    elapsed = time.perf_counter() - start
    connection.close()
    return size / elapsed / 1e6  # MB/s


@pytest.mark.benchmark
def test_retrieval_through_the_gatekeeper_costs_little(tmp_path):
    # Access reports are sent when 5000 events wait: the stand-in portal runs in this process,
    # and a real one is not on the machine that measures.
    node = start_node(
        tmp_path,
        permitted=1,
        other=1,
        unmapped=0,
        instances=INSTANCES,
        size=512,
        report_interval=3600,
        report_batch_max=5000,
    )
    try:
        study = node.permitted[0]
        series = study.series[0]
        token = node.portal.token(datasets=[node.permitted_dataset], lifetime=3600)
        gated = {"Accept": ACCEPT, "Authorization": f"Bearer {token}"}
        direct = {"Accept": ACCEPT}
        paths = [
            f"/dicom-web/studies/{study.uid}/series/{s}/instances/{sop}"
            for s, sop in study.instances
        ]
        series_path = f"/dicom-web/studies/{study.uid}/series/{series}"
        plain = Nginx(
            tmp_path / "plain-nginx",
            orthanc_port=node.orthanc.http_port,
            gatekeeper_port=node.gatekeeper.port,
            locations=PLAIN_PROXY,
        )
        plain.start()
        empty = Nginx(
            tmp_path / "empty-auth-nginx",
            orthanc_port=node.orthanc.http_port,
            gatekeeper_port=node.gatekeeper.port,
            locations=EMPTY_AUTH,
        )
        empty.start()
        ports = {
            "direct": node.orthanc.http_port,
            "nginx": plain.port,
            "subrequest": empty.port,
            "door": node.nginx.port,
        }
        headers = {"direct": direct, "nginx": direct, "subrequest": direct, "door": gated}
        single = {way: [] for way in ports}
        series_rate = {way: [] for way in ports}
        for _ in range(ROUNDS):
            for way, port in ports.items():
                single[way].append(_singles(port, paths, headers[way]))
                series_rate[way].append(_series(port, series_path, headers[way]))
    finally:
        for proxy in (locals().get("plain"), locals().get("empty")):
            if proxy is not None and proxy.process is not None:
                proxy.process.stop()
        node.stop()

    best = {way: min(times) for way, times in single.items()}
    rate = {way: max(rates) for way, rates in series_rate.items()}
    print(
        f"\nsingle instance (0.5 MB): direct {best['direct'] * 1000:.3f} ms, "
        f"nginx alone {best['nginx'] * 1000:.3f} ms, "
        f"nginx with an empty auth_request {best['subrequest'] * 1000:.3f} ms, "
        f"nginx + gatekeeper {best['door'] * 1000:.3f} ms; "
        f"ratio to direct {best['door'] / best['direct']:.2f} (target <= 1.10), "
        f"to nginx alone {best['door'] / best['nginx']:.2f}, "
        f"to nginx with an empty auth_request {best['door'] / best['subrequest']:.2f}"
    )
    print(
        f"whole series ({INSTANCES} instances): direct {rate['direct']:.0f} MB/s, "
        f"nginx alone {rate['nginx']:.0f} MB/s, "
        f"with an empty auth_request {rate['subrequest']:.0f} MB/s, "
        f"nginx + gatekeeper {rate['door']:.0f} MB/s; "
        f"throughput ratio to direct {rate['door'] / rate['direct']:.2f} (target about 1.0), "
        f"to nginx alone {rate['door'] / rate['nginx']:.2f}"
    )

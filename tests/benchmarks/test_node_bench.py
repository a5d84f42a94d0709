"""The cost of governance at the node: DICOMweb retrieval through nginx and the gatekeeper
against the same Orthanc reached directly, in the same run (issue 9, benchmark 7(d)).

A real node (``tests/node/harness.py``) holds one study of one series of CT-sized instances
(512 × 512, 16 bits: about 0.5 MB each). Measured over one kept-alive connection each:

- single instances: WADO-RS of one instance after another; the median time per instance through
  the node's public door divided by the median direct time. Target: at most 1.1.
- a whole series: WADO-RS of the series (one multipart answer); throughput through the door
  divided by direct throughput. Target: the same (about 1.0).

The same requests also take the steps in between, so that the cost of each shows: nginx alone
(the node's proxy settings, no ``auth_request``); nginx asking a separate process that answers
yes at once (what any external authorisation costs, whatever it decides); then the door, where
that process is the gatekeeper. Rounds are interleaved and the best round of each counts (the
machine is shared). Timings are printed, never asserted.
"""

import http.client
import statistics
import subprocess
import sys
import time

import pytest

from tests.node.harness import Nginx, free_port, start_node, wait_until

INSTANCES = 48
ROUNDS = 5
SINGLE_PER_ROUND = 200
SERIES_PER_ROUND = 3
ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
# The node's proxy settings (access/node/conf/nginx-locations.conf) without authorisation...
PLAIN_PROXY = """
# The variables the node's http-level part (reused allows) names, here unused.
set $ecii_uri "";
set $ecii_args "";
set $ecii_reuse "";
set $ecii_jti "";
proxy_http_version 1.1;
proxy_buffers 16 256k;
proxy_buffer_size 256k;
proxy_busy_buffers_size 512k;
location / {
    proxy_set_header Connection "";
    proxy_pass http://ecii_orthanc;
}
"""
# ...and with an auth_request to the gatekeeper's upstream, there a process that says yes.
ASK_A_PROCESS = (
    PLAIN_PROXY
    + """
auth_request /_ask;
location = /_ask {
    internal;
    proxy_pass http://ecii_gatekeeper/auth;
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_set_header Connection "";
}
"""
)
# A separate process that answers every request 200 at once (asyncio, no parsing).
YES = """
import asyncio, sys

class Yes(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while b"\\r\\n\\r\\n" in self.buffer:
            _head, _, self.buffer = self.buffer.partition(b"\\r\\n\\r\\n")
            self.transport.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n")

async def main():
    await asyncio.get_running_loop().create_server(Yes, "127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()

asyncio.run(main())
"""


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
    helpers = []
    try:
        study = node.permitted[0]
        series = study.series[0]
        token = node.portal.token(datasets=[node.permitted_dataset], lifetime=3600)
        direct = {"Accept": ACCEPT}
        paths = [
            f"/dicom-web/studies/{study.uid}/series/{s}/instances/{sop}"
            for s, sop in study.instances
        ]
        series_path = f"/dicom-web/studies/{study.uid}/series/{series}"

        yes_port = free_port()
        yes = subprocess.Popen([sys.executable, "-c", YES, str(yes_port)])
        helpers.append(yes)
        wait_until(lambda: http.client.HTTPConnection("127.0.0.1", yes_port).connect() is None)
        proxies = {}
        for name, locations, auth_port in (
            ("nginx", PLAIN_PROXY, node.gatekeeper.port),
            ("ask", ASK_A_PROCESS, yes_port),
        ):
            proxy = Nginx(
                tmp_path / f"{name}-nginx",
                orthanc_port=node.orthanc.http_port,
                gatekeeper_port=auth_port,
                locations=locations,
            )
            proxy.start()
            helpers.append(proxy.process.handle)
            proxies[name] = proxy.port
        ways = {
            "direct": (node.orthanc.http_port, direct),
            "nginx": (proxies["nginx"], direct),
            "ask": (proxies["ask"], direct),
            "door": (node.nginx.port, {**direct, "Authorization": f"Bearer {token}"}),
        }
        single = {way: [] for way in ways}
        rate = {way: [] for way in ways}
        for _ in range(ROUNDS):
            for way, (port, headers) in ways.items():
                single[way].append(_singles(port, paths, headers))
                rate[way].append(_series(port, series_path, headers))
    finally:
        for helper in helpers:
            helper.terminate()
            helper.wait(10)
        node.stop()

    best = {way: min(times) * 1000 for way, times in single.items()}
    top = {way: max(rates) for way, rates in rate.items()}
    print(
        f"\nsingle instance (0.5 MB), ms: direct {best['direct']:.3f}, "
        f"nginx alone {best['nginx']:.3f}, nginx asking a process that says yes "
        f"{best['ask']:.3f}, nginx + gatekeeper {best['door']:.3f}; "
        f"ratio to direct {best['door'] / best['direct']:.2f} (target <= 1.10), "
        f"to nginx alone {best['door'] / best['nginx']:.2f}, "
        f"to nginx asking a process {best['door'] / best['ask']:.2f}"
    )
    print(
        f"whole series ({INSTANCES} instances), MB/s: direct {top['direct']:.0f}, "
        f"nginx alone {top['nginx']:.0f}, nginx asking a process {top['ask']:.0f}, "
        f"nginx + gatekeeper {top['door']:.0f}; "
        f"throughput ratio to direct {top['door'] / top['direct']:.2f} (target about 1.0), "
        f"to nginx alone {top['door'] / top['nginx']:.2f}"
    )

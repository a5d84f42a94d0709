"""The node verifier's decisions per second.

(a) Distinct tokens, each seen once (every decision checks a signature): ``Verifier.verify`` on
    ES256 tokens against the raw ``cryptography`` ECDSA P-256 verification of the same
    signatures (DER-encoded beforehand, so the baseline is the library call alone). Target: at
    least 0.7 of it. joserfc alone (``jws.deserialize_compact`` with the key and the algorithm
    allow-list) is printed too, and Ed25519 against raw Ed25519 for comparison.
(b) One token repeated, as a viewer fetching frames sends it: decisions per second from the
    verified-token cache. Target: over 100,000 per second.

Keys and the status list come from the in-memory stand-in portal and are fetched before the
clock starts. Timings are printed, never asserted; the best of several interleaved rounds
counts, and the CPU-time ratio is printed too (steadier on a shared machine).
"""

import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jws

from access.node.claims import ALGORITHMS
from tests.access.node.stand_in import (
    ED_KID,
    ED_PRIVATE,
    ES_KID,
    ES_PRIVATE,
    Clock,
    StandInPortal,
    unb64,
)

TOKENS = 2_000
REPEATS = 200_000
ROUNDS = 7
TARGET_DISTINCT = 0.7
TARGET_CACHED = 100_000


def _signed_parts(token):
    head, payload, signature = token.split(".")
    return f"{head}.{payload}".encode("ascii"), unb64(signature)


def _best(runs, rounds):
    wall = dict.fromkeys(runs, float("inf"))
    cpu = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for label, run in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[label] = min(wall[label], time.perf_counter() - start)
            cpu[label] = min(cpu[label], time.process_time() - start_cpu)
    return wall, cpu


@pytest.mark.benchmark
def test_verifier_decisions_per_second():
    portal = StandInPortal(Clock())
    portal.status.set(TOKENS * 4, 0)  # an entry for every token below
    es_tokens = [portal.token() for _ in range(TOKENS)]
    ed_tokens = [portal.token(kid=ED_KID) for _ in range(TOKENS)]

    es_public = ES_PRIVATE.public_key()
    es_der = []
    for token in es_tokens:
        message, raw = _signed_parts(token)
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        es_der.append((message, encode_dss_signature(r, s)))
    ed_public = ED_PRIVATE.public_key()
    ed_raw = [_signed_parts(token) for token in ed_tokens]
    es_key = portal.keys[ES_KID]
    algorithms = list(ALGORITHMS)

    def raw_es256():
        for message, signature in es_der:
            es_public.verify(signature, message, ec.ECDSA(hashes.SHA256()))

    def joserfc_es256():
        for token in es_tokens:
            jws.deserialize_compact(token, es_key, algorithms=algorithms)

    def verifier_over(tokens):
        def run():
            verifier = portal.verifier()  # a cold token cache...
            verifier.verify(portal.token())  # ...with keys and status list fetched
            for token in tokens:
                assert verifier.verify(token).allowed

        return run

    def raw_ed25519():
        for message, signature in ed_raw:
            ed_public.verify(signature, message)

    runs = {
        "baseline: cryptography ECDSA P-256 verify": raw_es256,
        "joserfc deserialize_compact ES256": joserfc_es256,
        "Verifier.verify, distinct ES256 tokens": verifier_over(es_tokens),
        "baseline: cryptography Ed25519 verify": raw_ed25519,
        "Verifier.verify, distinct Ed25519 tokens": verifier_over(ed_tokens),
    }
    raw_es256()  # warm
    wall, cpu = _best(runs, ROUNDS)

    print()
    print(f"(a) Verifier decisions, {TOKENS} distinct tokens, best of {ROUNDS} interleaved rounds")
    print(f"  {'':<44} {'per s':>8}        ratio  (CPU time ratio)")
    baselines = {
        "joserfc deserialize_compact ES256": "baseline: cryptography ECDSA P-256 verify",
        "Verifier.verify, distinct ES256 tokens": "baseline: cryptography ECDSA P-256 verify",
        "Verifier.verify, distinct Ed25519 tokens": "baseline: cryptography Ed25519 verify",
    }
    for label in runs:
        base = baselines.get(label, label)
        print(
            f"  {label:<44} {TOKENS / wall[label]:8.0f}/s  ratio {wall[base] / wall[label]:5.2f}  "
            f"({cpu[base] / cpu[label]:.2f})"
        )
    print(f"  target: ratio >= {TARGET_DISTINCT} for Verifier.verify, distinct ES256 tokens")


@pytest.mark.benchmark
def test_cached_decisions_per_second():
    portal = StandInPortal(Clock())
    verifier = portal.verifier()
    token = portal.token()
    assert verifier.verify(token).allowed
    checks = verifier.stats.signature_checks

    def repeated():
        for _ in range(REPEATS):
            verifier.verify(token)

    wall, cpu = _best({"cached": repeated}, ROUNDS)
    assert verifier.stats.signature_checks == checks  # every one came from the cache
    print()
    print(f"(b) One token repeated {REPEATS} times, best of {ROUNDS} rounds")
    print(
        f"  Verifier.verify from the cache: {REPEATS / wall['cached']:,.0f} decisions/s "
        f"(CPU time: {REPEATS / cpu['cached']:,.0f}/s); target > {TARGET_CACHED:,}/s"
    )

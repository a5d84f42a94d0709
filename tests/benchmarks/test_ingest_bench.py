"""DICOM ingest throughput against plain pydicom header reading.

Generates de-identified files and measures ``dcmread(stop_before_pixels=True)`` over them in
this process as the baseline (files/s); then reading with the gate (``read_headers``, no
database), and full ingests with one and two worker processes into fresh datasets. Prints
files/s and the ratio to the baseline. Target: at least 0.75 of the baseline for one process.
Timings are printed, never asserted. The best of several interleaved rounds counts, and the
CPU-time ratio of the in-process runs is printed too: on a shared machine it is steadier than
wall time.
"""

import os
import time

import pytest
from pydicom import dcmread

from catalogue.dicom import read_headers
from catalogue.ingest import collect_files, ingest_paths
from catalogue.services import dataset_create, node_create
from tests.catalogue.dicom_factory import write_tree

FILES = 2_000  # 20 subjects × 1 study × 4 series × 25 instances
ROUNDS = 5  # measurements are interleaved and the best round counts (a busy machine is noisy)
TARGET_ONE_PROCESS = 0.75


def _dataset(node, title):
    return dataset_create(
        node=node,
        actor=None,
        title=title,
        description="Benchmark collection.",
        conditions=["lung cancer"],
        health_categories=["EHRS"],
        access_conditions=["REMOTE_PROCESSING"],
        contact_name="Data desk",
        contact_email="data@example.org",
    )


@pytest.mark.benchmark
@pytest.mark.django_db
def test_ingest_throughput(tmp_path):
    write_tree(tmp_path, subjects=20, series_per_study=4, instances_per_series=25)
    files = collect_files([tmp_path])
    assert len(files) == FILES
    size = sum(os.path.getsize(f) for f in files) / len(files)
    node = node_create(
        actor=None,
        name="Benchmark node",
        slug="bench",
        organisation="Benchmark Hospital",
        country="NO",
        contact_email="bench@example.org",
        dicomweb_base_url="https://bench.example.org/dicom-web",
        audience="urn:ecii:node:bench",
    )

    def baseline():
        for path in files:
            dcmread(path, stop_before_pixels=True)

    def gate_only():
        read_headers(files)

    def ingest(workers):
        def run():
            dataset = _dataset(node, f"Ingest with {workers} worker(s)")
            report = ingest_paths(dataset=dataset, paths=[tmp_path], workers=workers)
            assert report.new_instances == FILES and not report.refused and not report.unreadable

        return run

    again = _dataset(node, "Re-ingest")
    ingest_paths(dataset=again, paths=[tmp_path], workers=1)

    def reingest():
        report = ingest_paths(dataset=again, paths=[tmp_path], workers=1)
        assert report.already_indexed == FILES

    runs = {
        "baseline: dcmread(stop_before_pixels)": baseline,
        "read_headers (read + gate), no database": gate_only,
        "ingest_paths workers=1": ingest(1),
        "ingest_paths workers=2": ingest(2),
        "ingest_paths workers=1, all already indexed": reingest,
    }
    baseline()  # page cache and imports warm
    wall = dict.fromkeys(runs, float("inf"))
    cpu = dict.fromkeys(runs, float("inf"))
    for _ in range(ROUNDS):
        for label, run in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[label] = min(wall[label], time.perf_counter() - start)
            cpu[label] = min(cpu[label], time.process_time() - start_cpu)

    base = "baseline: dcmread(stop_before_pixels)"
    print()
    print(f"DICOM ingest, {FILES} files of {size:.0f} bytes, {os.cpu_count()} CPUs, "
          f"best of {ROUNDS} interleaved rounds")  # fmt: skip
    print(f"  {'':<44} {'files/s':>7}          ratio  (CPU time ratio, this process)")
    for label in runs:
        rate = FILES / wall[label]
        cpu_ratio = "-" if label.endswith("workers=2") else f"{cpu[base] / cpu[label]:.2f}"
        print(
            f"  {label:<44} {rate:7.0f} files/s  ratio {wall[base] / wall[label]:5.2f}  "
            f"({cpu_ratio})"
        )
    print(f"  target: ratio >= {TARGET_ONE_PROCESS} for ingest_paths workers=1")

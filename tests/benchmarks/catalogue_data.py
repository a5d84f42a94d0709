"""Catalogue data for the benchmarks, built with bulk SQL: nodes, datasets with their facet
terms, and a study/series index of ``SERIES`` series over ``SERIES // SERIES_PER_STUDY``
studies whose header values (date, age, sex, modality, body part, equipment, field strength,
slice thickness) vary deterministically."""

import random
from datetime import UTC, datetime, timedelta

from django.db import connection

from catalogue.facets import bump_version
from catalogue.models import Dataset, DatasetTerm, Node

DATASETS = 10_000
SERIES = 1_000_000
SERIES_PER_STUDY = 4

CONDITIONS = ["breast cancer", "lung cancer", "prostate cancer", "colorectal cancer", "glioma",
              "pancreatic cancer", "melanoma", "lymphoma"]  # fmt: skip
MODALITIES = ["CT", "MR", "PT", "MG", "US", "CR", "DX", "NM"]
BODY_PARTS = ["BREAST", "CHEST", "PROSTATE", "ABDOMEN", "HEAD", "PELVIS", "LIVER"]
ACCESS = ["DOWNLOAD", "IN_SITU_PROCESSING", "REMOTE_PROCESSING"]
DUO = ["DUO:0000042", "DUO:0000006", "DUO:0000007", "DUO:0000046", "DUO:0000019"]
COUNTRIES = ["NO", "ES", "FR", "DE", "IT", "NL", "PT", "SE", "BE", "AT"]


def populate_catalogue(datasets: int = DATASETS, nodes: int = 40) -> list[Dataset]:
    """``nodes`` nodes and ``datasets`` datasets (nine in ten published, at times spread over
    four and a half years) with their terms."""
    rng = random.Random(7)
    node_rows = Node.objects.bulk_create(
        Node(
            name=f"Node {i}",
            slug=f"node-{i}",
            organisation=f"Hospital {i}",
            country=COUNTRIES[i % len(COUNTRIES)],
            contact_email=f"n{i}@example.org",
            dicomweb_base_url=f"https://node{i}.example.org/dicom-web",
            audience=f"urn:ecii:node:{i}",
        )
        for i in range(nodes)
    )
    start = datetime(2020, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(datasets):
        condition = rng.choice(CONDITIONS)
        modalities = rng.sample(MODALITIES, rng.randint(1, 3))
        body = rng.sample(BODY_PARTS, rng.randint(1, 2))
        access = rng.sample(ACCESS, rng.randint(1, 2))
        duo = rng.sample(DUO, rng.randint(1, 2))
        title = f"{condition.title()} {' '.join(modalities)} collection {i}"
        rows.append(
            Dataset(
                node=node_rows[i % len(node_rows)],
                title=title,
                description=f"De-identified {condition} imaging ({', '.join(modalities)}).",
                conditions=[condition],
                modalities=modalities,
                body_parts=body,
                access_conditions=access,
                duo_codes=duo,
                health_categories=["EHRS"],
                publisher_name="Bench",
                contact_name="Bench",
                contact_email="bench@example.org",
                min_age=rng.randint(18, 50),
                max_age=rng.randint(55, 95),
                status="published" if (published := rng.random() < 0.9) else "draft",
                published_at=start + timedelta(hours=rng.randint(0, 40_000)) if published else None,
                number_of_subjects=rng.randint(10, 5000),
                number_of_studies=rng.randint(10, 20_000),
                search_text=f"{title}\n{condition}\n{' '.join(body)}",
            )
        )
    rows = Dataset.objects.bulk_create(rows, batch_size=2000)
    terms = []
    for d in rows:
        for facet, values in (
            ("condition", d.conditions), ("modality", d.modalities), ("body_part", d.body_parts),
            ("access", d.access_conditions), ("duo", d.duo_codes),
        ):  # fmt: skip
            terms += [DatasetTerm(dataset=d, facet=facet, value=v) for v in values]
    DatasetTerm.objects.bulk_create(terms, batch_size=5000)
    return rows


def populate_index(datasets: list[Dataset], series: int = SERIES) -> None:
    """``series`` series, ``SERIES_PER_STUDY`` to a study, spread over ``datasets``; about three
    studies to a subject. Each study's series are CT, MR, PT and MG; MR series have a field
    strength; slice thickness, equipment, age, sex and date vary from study to study."""
    first, last = datasets[0].pk, datasets[-1].pk
    studies = series // SERIES_PER_STUDY
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalogue_study (dataset_id, study_instance_uid, subject, study_date, "
            "study_year, age, sex) "
            "SELECT %s + (n %% (%s - %s + 1)), '1.2.826.0.1.' || n, 'p-' || (n / 3), "
            "make_date(2010 + n %% 15, 1 + n %% 12, 1 + n %% 28), 2010 + n %% 15, "
            "18 + (n / 3) %% 70, (ARRAY['F','M','O'])[1 + (n / 3) %% 3] "
            "FROM generate_series(1, %s) AS n",
            [first, last, first, studies],
        )
        cursor.execute(
            "INSERT INTO catalogue_series (study_id, series_instance_uid, modality, body_part, "
            "manufacturer, model, field_strength, slice_thickness, instance_count) "
            "SELECT s.id, s.study_instance_uid || '.' || k, "
            "(ARRAY['CT','MR','PT','MG'])[1 + k %% 4], "
            "(ARRAY['CHEST','BREAST','ABDOMEN','HEAD','PELVIS'])[1 + s.id %% 5], "
            "(ARRAY['SIEMENS','GE MEDICAL SYSTEMS','Philips'])[1 + s.id %% 3], "
            "(ARRAY['Avanto','Signa','Ingenia','Skyra'])[1 + (s.id + k) %% 4], "
            "CASE WHEN 1 + k %% 4 = 2 THEN (ARRAY[1.5, 3.0])[1 + s.id %% 2] END, "
            "(ARRAY[0.625, 1.0, 1.25, 2.5, 3.0, 5.0])[1 + (s.id + k) %% 6], 100 "
            "FROM catalogue_study s CROSS JOIN generate_series(1, %s) AS k",
            [SERIES_PER_STUDY],
        )
        cursor.execute("ANALYZE")
    bump_version()  # rows were inserted behind the services' back

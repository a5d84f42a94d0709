"""The current consents of the subjects linked at imaging nodes, read as the consent decision
reads them: the whole Consent resources (:func:`current_consents`, what
:func:`consent.policy.decide` takes), or :class:`~consent.policy.ConsentFacts` built from the
columns of each current version, with the provisions of each distinct rule set read once
(:func:`consent_facts`, :func:`linked_facts`). Raw SQL: for many subjects the ORM's row
handling costs more than the query."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import F

from catalogue.models import Dataset, Study
from consent.models import ConsentRecord, ConsentVersion, DonorLink
from consent.policy import ConsentFacts


def current_consents(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], list[Any]]:
    """The current Consent resources (FHIR JSON) of the citizens who linked each ``(node id,
    subject pseudonym)`` pair: what :func:`consent.policy.decide` reads. Pairs nobody linked
    map to an empty list. Two queries, whatever the number of pairs."""
    wanted = set(pairs)
    found: dict[tuple[int, str], list[Any]] = {pair: [] for pair in wanted}
    if not wanted:
        return found
    links = DonorLink.objects.filter(
        node_id__in={n for n, _ in wanted}, subject__in={s for _, s in wanted}
    ).values_list("node_id", "subject", "citizen_id")
    owners: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for node_id, subject, citizen_id in links:
        if (node_id, subject) in wanted:
            owners[citizen_id].append((node_id, subject))
    versions = ConsentVersion.objects.filter(
        record__owner_id__in=list(owners), version=F("record__current_version")
    ).values_list("record__owner_id", "resource")
    for owner_id, resource in versions:
        for pair in owners[owner_id]:
            found[pair].append(resource)
    return found


# The current versions of the citizens who linked a pseudonym at some nodes, one row per
# (link, consent). Raw SQL: for many subjects the ORM's row handling costs more than the query.
_CURRENT_OF_LINKED = """
SELECT l.node_id, l.subject, r.id, v.version, v.status, v.decision, v.period_start,
       v.period_end, v.last_updated, v.rules_digest, v.id
FROM {link} l
JOIN {record} r ON r.owner_id = l.citizen_id
JOIN {version} v ON v.record_id = r.id AND v.version = r.current_version
"""


def tables() -> dict[str, str]:
    return {
        "link": DonorLink._meta.db_table,
        "record": ConsentRecord._meta.db_table,
        "version": ConsentVersion._meta.db_table,
        "study": Study._meta.db_table,
        "dataset": Dataset._meta.db_table,
    }


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _aware(value: object) -> datetime | None:
    """A timestamp from a raw row: PostgreSQL's driver gives datetimes, SQLite's text."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rules(versions: dict[str, int]) -> dict[str, list[Any]]:
    """The provisions of each rule set, read from one version that has it (``versions``: a
    version's primary key by rule set)."""
    if not versions:
        return {}
    found = ConsentVersion.objects.filter(pk__in=set(versions.values())).values_list(
        "rules_digest", "resource__provision"
    )
    return {digest: rules if isinstance(rules, list) else [] for digest, rules in found}


def linked_facts(
    cursor: Any, node_ids: Sequence[int], subjects: Sequence[str] | None
) -> dict[tuple[int, str], list[ConsentFacts]]:
    """The current consents (as :class:`ConsentFacts`) of the citizens who linked a pseudonym
    at ``node_ids`` (only ``subjects`` when given), by ``(node id, pseudonym)``: two queries."""
    sql = _CURRENT_OF_LINKED.format(**tables())
    params: list[Any]
    if is_postgres():
        sql += " WHERE l.node_id = ANY(%s)"
        params = [list(node_ids)]
        if subjects is not None:
            sql += " AND l.subject = ANY(%s)"
            params.append(list(subjects))
    else:
        sql += f" WHERE l.node_id IN ({marks(node_ids)})"
        params = list(node_ids)
        if subjects is not None:
            sql += f" AND l.subject IN ({marks(subjects)})"
            params += subjects
    cursor.execute(sql, params)
    rows = cursor.fetchall()
    shared = _rules({row[9]: row[10] for row in rows})
    if not is_postgres():  # PostgreSQL's driver gives aware datetimes
        rows = [
            (*row[:6], _aware(row[6]), _aware(row[7]), _aware(row[8]), *row[9:]) for row in rows
        ]
    by_pair: dict[tuple[int, str], list[ConsentFacts]] = defaultdict(list)
    for row in rows:
        node_id, subject, record_id, number, status, decision, start, end, updated, digest = row[
            :10
        ]
        by_pair[(node_id, subject)].append(
            ConsentFacts(
                f"Consent/{record_id}/_history/{number}",
                status,
                decision,
                start,
                end,
                updated,
                shared.get(digest, []),
            )
        )
    return by_pair


def consent_facts(
    node_ids: Iterable[int], subjects: Iterable[str] | None = None
) -> dict[tuple[int, str], list[ConsentFacts]]:
    """The current consents of the subjects linked at ``node_ids`` (only ``subjects`` when
    given), by ``(node id, pseudonym)``, as the consent decision reads them; pairs nobody
    linked are absent. Two queries."""
    nodes = sorted(set(node_ids))
    wanted = None if subjects is None else sorted(set(subjects))
    if not nodes or wanted == []:
        return {}
    with connection.cursor() as cursor:
        return linked_facts(cursor, nodes, wanted)


def marks(values: Iterable[object]) -> str:
    return ", ".join("%s" for _ in values)

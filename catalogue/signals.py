"""What the catalogue tells the layers above it, without importing them.

:data:`studies_indexed` is sent inside the transaction of an ingest batch that indexed studies
new to a dataset. Its one argument, ``pairs``, lists the ``(node id, subject pseudonym)`` pairs
of those studies: the access layer brings each node's consent exclusion list up to date for
them in the same transaction, so that a subject is never served before the consent decision
for their new study is in the node's list (with an opt-in default, an unconsented subject is
excluded from the moment their first study is indexed).
"""

from collections.abc import Iterable

from django.dispatch import Signal

studies_indexed = Signal()


def send_studies_indexed(pairs: Iterable[tuple[int, str]]) -> None:
    """Tell the receivers that ``pairs`` have new studies in the index."""
    wanted = sorted(set(pairs))
    if wanted:
        studies_indexed.send(sender=studies_indexed, pairs=wanted)

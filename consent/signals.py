"""What the consent layer tells the layers above it, without importing them.

:data:`subjects_changed` is sent inside the transaction of every write that may change the
consent decision for some subjects: a new version of a citizen's consent (for every pseudonym
they linked), and a pseudonym linked to an account or unlinked from it. Its one argument,
``pairs``, lists the ``(node id, subject pseudonym)`` pairs concerned. The access layer keeps
each node's consent exclusion list with it, in the same transaction: a withdrawal is never
stored without its enforcement.
"""

from collections.abc import Iterable

from django.dispatch import Signal

subjects_changed = Signal()


def send_subjects_changed(pairs: Iterable[tuple[int, str]]) -> None:
    """Tell the receivers that the decisions for ``pairs`` may have changed."""
    wanted = sorted(set(pairs))
    if wanted:
        subjects_changed.send(sender=subjects_changed, pairs=wanted)

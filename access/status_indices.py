"""Where in its status list a token's entry goes: the n-th entry of a list is handed out at a
position chosen by a keyed pseudorandom permutation of the list's indices, not at index n.

A status list is public (every node fetches it), and a token's index is seen by every node the
token is shown to. Indices handed out in order would tell anyone holding two tokens which was
issued first and how many were issued between them, and the bits around an index would be those
of tokens issued at about the same time (the draft's herd privacy asks that an index reveal
nothing of the sort). A permutation keeps the allocation as cheap as a counter (the n-th entry of
a list is always at the same place, so no index is ever handed out twice) while its order cannot
be told without the list's key, which never leaves the portal.

The permutation is a balanced Feistel network on the smallest domain of ``2**(2*half)`` indices
that covers the list, with HMAC-SHA-256 as its round function, walked in a cycle until it lands
inside the list (``capacity`` is at least a quarter of the domain, so fewer than four steps on
average).
"""

import hashlib
import hmac
import secrets

ROUNDS = 4  # a four-round Feistel network with a pseudorandom round function is a strong PRP
KEY_BYTES = 32


def new_key() -> bytes:
    """A fresh key for a new list."""
    return secrets.token_bytes(KEY_BYTES)


def _round(key: bytes, number: int, half: int, value: int) -> int:
    message = number.to_bytes(1, "big") + value.to_bytes(4, "big")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") & ((1 << half) - 1)


def _feistel(key: bytes, half: int, value: int) -> int:
    mask = (1 << half) - 1
    left, right = value >> half, value & mask
    for number in range(ROUNDS):
        left, right = right, left ^ _round(key, number, half, right)
    return (left << half) | right


def index_of(key: bytes, n: int, capacity: int) -> int:
    """The index of the ``n``-th entry (from 0) of a list of ``capacity`` entries: a bijection
    of ``range(capacity)`` onto itself for each key."""
    if not 0 <= n < capacity:
        raise ValueError("n is outside the list")
    half = max(1, ((capacity - 1).bit_length() + 1) // 2)
    value = n
    while True:
        value = _feistel(key, half, value)
        if value < capacity:
            return value

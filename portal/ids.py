"""Object ids taken from outside: positive integers that fit the database's primary keys.

Every primary key is a ``BigAutoField`` (a signed 64-bit integer on PostgreSQL and SQLite), so an
id above ``MAX_ID`` names nothing. Such ids are refused where they come in: the API's path
converter ``<id:pk>`` does not match them (404, like any id that names nothing), and ``IdField``
refuses them in request bodies (400). A lookup never sees them, so neither database overflows.
"""

from django.urls import register_converter
from rest_framework import serializers

MAX_ID = 2**63 - 1


def is_id(value: object) -> bool:
    """True for an ``int`` that can be a primary key (1 to ``MAX_ID``)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


class IdConverter:
    """``<id:pk>``: digits naming a possible primary key. Anything else does not match (404)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not is_id(number):
            raise ValueError(f"{value} is not an id")
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")


class IdField(serializers.IntegerField):
    """An object id in a request body: an integer from 1 to ``MAX_ID``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

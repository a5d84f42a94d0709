"""The criteria people give the catalogue's search and cohort feasibility as query parameters,
read or refused: never left out.

A value that cannot be a criterion (a number that is not one, a date that is not a date, a
code the index cannot hold such as ``sex=female``, a range whose end is below its start) is
refused with a message under its parameter's name; :meth:`Reader.check` raises them all at
once as a Django ``ValidationError``, which the API answers as 400 problem details naming each
parameter (``portal.api_errors``) and the pages show beside their fields. An answer counted
with one criterion silently dropped would look right and be wrong: more subjects, more
datasets, men among the women asked for.

What is not refused:

- a blank value (an empty box of a form, or only spaces) asks nothing;
- a value the index can hold but no dataset has (a modality no dataset has, a country without
  a node) matches nothing and counts zero.
"""

import datetime
import math
from collections.abc import Collection

from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext as _

from portal.ids import is_id

MAX_NUMBER_LENGTH = 20  # characters: no number a criterion needs is longer
SHOWN_VALUE_LENGTH = 40  # characters of a refused value quoted back in its message


def _quoted(value: str) -> str:
    """``value`` to quote back in a message: cut short, any control character shown as �."""
    shown = value if len(value) <= SHOWN_VALUE_LENGTH else value[: SHOWN_VALUE_LENGTH - 1] + "…"
    if not shown.isprintable():
        shown = "".join(c if c.isprintable() else "\ufffd" for c in shown)
    return f"“{shown}”"


class Reader:
    """Reads the values of query parameters, noting a message for each it cannot read."""

    def __init__(self, params: QueryDict) -> None:
        self.params = params
        self.errors: dict[str, list[str]] = {}

    def refuse(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def check(self) -> None:
        """Raise every refusal noted, as one ``ValidationError`` by parameter."""
        if self.errors:
            raise ValidationError(self.errors)

    def values(self, name: str) -> list[str]:
        """The values of ``name`` that are not blank, without surrounding spaces."""
        return [v for v in (v.strip() for v in self.params.getlist(name)) if v]

    def single(self, name: str) -> str | None:
        """The one value of ``name`` (None when blank); several are refused, as only one
        would count."""
        values = self.values(name)
        if len(values) > 1:
            self.refuse(name, _("Give one value, not several."))
            return None
        return values[0] if values else None

    def number(self, name: str, *, whole: bool = False) -> float | None:
        """A finite number not below zero (a whole one for ``whole``)."""
        text = self.single(name)
        if text is None:
            return None
        number: float | None = None
        if len(text) <= MAX_NUMBER_LENGTH:
            try:
                number = int(text) if whole else float(text)
            except ValueError:
                number = None
        if number is None or not math.isfinite(number) or number < 0:
            if whole:
                self.refuse(
                    name, _("Enter a whole number, 0 or more: %s is not one.") % _quoted(text)
                )
            else:
                self.refuse(
                    name,
                    _("Enter a number, 0 or more, such as 1.5: %s is not one.") % _quoted(text),
                )
            return None
        return number

    def date(self, name: str) -> datetime.date | None:
        """An ISO 8601 date (YYYY-MM-DD)."""
        text = self.single(name)
        if text is None:
            return None
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            self.refuse(
                name,
                _("Enter a date as YYYY-MM-DD, such as 2020-01-31: %s is not one.") % _quoted(text),
            )
            return None

    def texts(self, name: str, *, limit: int, upper: bool = False) -> tuple[str, ...]:
        """Text values of at most ``limit`` printable characters, as the index holds them
        (upper-cased for ``upper``)."""
        found = []
        for value in self.values(name):
            if len(value) > limit or not value.isprintable():
                self.refuse(
                    name,
                    _("Enter text of at most %(limit)d printable characters.") % {"limit": limit},
                )
                continue
            found.append(value.upper() if upper else value)
        return tuple(found)

    def free_text(self, name: str, *, cut: int) -> str:
        """Free text as typed, cut to ``cut`` characters; text with a control character other
        than spacing (a NUL cannot even reach PostgreSQL) is refused."""
        text = self.params.get(name, "")
        if not text.isprintable() and any(not c.isprintable() and not c.isspace() for c in text):
            self.refuse(name, _("Enter text without control characters."))
            return ""
        return text[:cut]

    def codes(
        self, name: str, allowed: Collection[str], *, what: str, lower: bool = False
    ) -> tuple[str, ...]:
        """Values of a fixed list of codes ``allowed``, in any case (upper-cased, or lower-cased
        for ``lower``); ``what`` says what the codes are, for the message."""
        found = []
        for value in self.values(name):
            code = value.lower() if lower else value.upper()
            if code in allowed:
                found.append(code)
            else:
                self.refuse(
                    name, _("%(value)s is not %(what)s.") % {"value": _quoted(value), "what": what}
                )
        return tuple(found)

    def code(
        self, name: str, allowed: Collection[str], *, what: str, lower: bool = False
    ) -> str | None:
        """The one value of ``name``, one of the codes ``allowed`` (as :meth:`codes`)."""
        if self.single(name) is None:
            return None
        found = self.codes(name, allowed, what=what, lower=lower)
        return found[0] if found else None

    def ids(self, name: str, *, what: str) -> tuple[int, ...]:
        """Object ids: ASCII digits; ``what`` says of what. Digits that can name no object (0,
        or beyond the largest key) match nothing, as such an id in an address finds nothing;
        anything else is refused."""
        found = []
        for value in self.values(name):
            if value.isascii() and value.isdigit():
                number = int(value) if len(value) < 20 else 0
                found.append(number if is_id(number) else 0)  # 0: no object has it
            else:
                self.refuse(
                    name, _("%(value)s is not %(what)s.") % {"value": _quoted(value), "what": what}
                )
        return tuple(found)

    def ordered[T: (float, datetime.date)](
        self, low_name: str, low: T | None, high_name: str, high: T | None
    ) -> None:
        """Refuse a range whose end ``high`` is below its start ``low``."""
        if low is not None and high is not None and high < low:
            self.refuse(
                high_name,
                _("The range is reversed: this end is below its start, %(low)s.")
                % {"low": low_name},
            )

"""Reading DICOM headers (never pixel data) into the gate's plain :class:`Header`.

The common case, a Part 10 file in an uncompressed or encapsulated transfer syntax, is read
here directly from its bytes: the file meta information, then every element up to the pixel
data, sequences included, with ``struct``. Building pydicom datasets costs several times
more than the gate, so pydicom is used only for what it does best: the data dictionary (the
VR of implicit-VR elements and the keywords that name attributes in refusals), character
sets, and the files this reader does not take on (deflated data sets, files that are cut
short or malformed, which pydicom reads or explains as before).

This is the only part of the node package that imports pydicom (Debian ships python3-pydicom);
:mod:`access.node.deid` itself stays on the standard library.
"""

import io
import os
import struct
import warnings
from collections.abc import Callable, Iterable
from functools import cache
from typing import BinaryIO, Literal

from pydicom import dcmread
from pydicom.charset import convert_encodings
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filewriter import dcmwrite

from ..deid import BASIC, Element, Header, HeaderResult, Status, check, tag_text
from ..deid.gate import Decoder

try:  # pydicom 2.2 and later
    from pydicom.charset import decode_bytes
except ImportError:  # pragma: no cover (older pydicom)
    from pydicom.charset import decode_string as decode_bytes

# The first read of a file; a header larger than this is read whole.
FIRST_READ = 64 * 1024
DEFLATED = "1.2.840.10008.1.2.1.99"
IMPLICIT_LITTLE = "1.2.840.10008.1.2"
EXPLICIT_BIG = "1.2.840.10008.1.2.2"
SPECIFIC_CHARACTER_SET = 0x00080005
PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})

_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN",
                       b"UR", b"UT", b"UV"})  # fmt: skip
_VRS = frozenset({"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB",
                  "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM",
                  "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"})  # fmt: skip
_HEADER = {True: struct.Struct("<HHL"), False: struct.Struct(">HHL")}
_TAG = {True: struct.Struct("<HH"), False: struct.Struct(">HH")}
_SHORT = {True: struct.Struct("<H"), False: struct.Struct(">H")}
_LONG = {True: struct.Struct("<L"), False: struct.Struct(">L")}
_TEXT_DELIMITERS = {0x5C, 0x0D, 0x0A, 0x09, 0x0C}
_PN_DELIMITERS = _TEXT_DELIMITERS | {0x5E, 0x3D}


class NeedMore(Exception):
    """The header goes on past the bytes read so far."""


@cache
def dictionary_vr(tag: int) -> str:
    """The VR the data dictionary gives ``tag`` ("UN" if unknown; "US or SS" becomes "US")."""
    try:
        return str(dictionary_VR(tag)).split(" ", 1)[0]
    except KeyError:
        return "UN"


@cache
def keyword(tag: int) -> str:
    return str(keyword_for_tag(tag) or "")


class _Parser:
    """Elements from ``pos`` to ``end`` of ``data``: explicit or implicit VR, either byte
    order, defined and undefined lengths, nested sequences, sequences encoded as UN (implicit
    VR little endian) and encapsulated fragments. Malformed data raises ValueError; data that
    runs past the bytes read raises :class:`NeedMore` when the file holds more.

    At the top level (``top``), reading stops at the pixel data, whose position and length
    are left in ``pixel_data``.
    """

    def __init__(self, data: bytes, *, implicit: bool, little: bool, complete: bool):
        self.data = data
        self.implicit = implicit
        self.little = little
        self.complete = complete  # data holds the whole file
        self.pixel_data: tuple[int, int] | None = None

    def _short(self, what: str) -> Exception:
        return ValueError(f"truncated: {what}") if self.complete else NeedMore()

    def elements(
        self, pos: int, end: int, *, delimited: bool, top: bool = False
    ) -> tuple[list[Element], int]:
        data, little, implicit = self.data, self.little, self.implicit
        header, tag_struct = _HEADER[little], _TAG[little]
        short, long = _SHORT[little], _LONG[little]
        out: list[Element] = []
        append = out.append
        while pos < end:
            start = pos
            if pos + 8 > end:
                raise self._short("the data ends inside an element header")
            as_un = False
            if implicit:
                group, element, length = header.unpack_from(data, pos)
                tag = group << 16 | element
                vr = "" if group == 0xFFFE else dictionary_vr(tag)
                pos += 8
            else:
                group, element = tag_struct.unpack_from(data, pos)
                tag = group << 16 | element
                if group == 0xFFFE:
                    vr = ""
                    length = header.unpack_from(data, pos)[2]
                    pos += 8
                else:
                    raw_vr = data[pos + 4 : pos + 6]
                    if raw_vr in _LONG_VRS:
                        if pos + 12 > end:
                            raise self._short("the data ends inside an element header")
                        length = long.unpack_from(data, pos + 8)[0]
                        pos += 12
                    else:
                        length = short.unpack_from(data, pos + 6)[0]
                        pos += 8
                    vr = raw_vr.decode("latin-1")
                    if vr not in _VRS:
                        raise ValueError(f"{tag_text(tag)} has the VR {vr!r}")
                    if vr == "UN":
                        as_un = True  # a sequence in it is implicit VR little endian
                        known = dictionary_vr(tag)
                        if known != "UN":
                            vr = known
            if tag == _ITEM_END:
                if delimited:
                    return out, pos
                continue
            if group == 0xFFFE:
                raise ValueError(f"{tag_text(tag)} outside a sequence")
            if top and tag in PIXEL_TAGS:
                self.pixel_data = (start, length if length != _UNDEFINED else -1)
                return out, start
            if length == _UNDEFINED:
                if vr in ("OB", "OW") or tag == 0x7FE00010:
                    pos = self._skip_fragments(pos, end)
                    append((tag, vr, b"\x01"))  # encapsulated data: a value
                    continue
                items, pos = self._nested(as_un).items(pos, end, delimited=True)
                append((tag, "SQ", items))
                continue
            if pos + length > end:
                raise self._short(f"the file ends inside {tag_text(tag)}")
            if vr == "SQ":
                items, _ = self._nested(as_un).items(pos, pos + length, delimited=False)
                append((tag, "SQ", items))
            else:
                append((tag, vr, data[pos : pos + length]))
            pos += length
        if delimited:
            raise self._short("an item has no item delimiter")
        return out, pos

    def items(self, pos: int, end: int, *, delimited: bool) -> tuple[list[list[Element]], int]:
        """The items from ``pos`` up to ``end`` or the sequence delimiter, and the position after
        them."""
        data, header = self.data, _HEADER[self.little]
        items: list[list[Element]] = []
        while pos < end:
            if pos + 8 > end:
                raise self._short("a sequence ends inside an item header")
            group, element, length = header.unpack_from(data, pos)
            tag = group << 16 | element
            pos += 8
            if tag == _SEQUENCE_END:
                return items, pos
            if tag != _ITEM:
                raise ValueError(f"a sequence holds {tag_text(tag)} where an item should be")
            if length == _UNDEFINED:
                elements, pos = self.elements(pos, end, delimited=True)
            else:
                if pos + length > end:
                    raise self._short("an item is longer than its sequence")
                elements, _ = self.elements(pos, pos + length, delimited=False)
                pos += length
            items.append(elements)
        if delimited:
            raise self._short("a sequence has no sequence delimiter")
        return items, pos

    def _nested(self, as_un: bool) -> "_Parser":
        if as_un and not (self.implicit and self.little):  # CP-246: a sequence encoded as UN
            return _Parser(self.data, implicit=True, little=True, complete=self.complete)
        return self

    def _skip_fragments(self, pos: int, end: int) -> int:
        header = _HEADER[self.little]
        while pos + 8 <= end:
            group, element, length = header.unpack_from(self.data, pos)
            pos += 8
            if group << 16 | element == _SEQUENCE_END:
                return pos
            pos += length
        raise self._short("encapsulated data has no sequence delimiter")


def _decoder(charset: bytes | None) -> Decoder:
    """How to read the text of a file whose Specific Character Set is ``charset``."""
    names = [] if not charset else charset.decode("latin-1").strip(" \x00").split("\\")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encodings = convert_encodings([name.strip() for name in names] or None)

    def decode(value: bytes, vr: str) -> str | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                delimiters = _PN_DELIMITERS if vr == "PN" else _TEXT_DELIMITERS
                return str(decode_bytes(value, encodings, delimiters))
        except (LookupError, ValueError):
            return None

    return decode


def header_of(elements: list[Element]) -> Header:
    """A :class:`Header` of top-level elements, reading text in their character set."""
    charset = next((v for t, _vr, v in elements if t == SPECIFIC_CHARACTER_SET), None)
    return Header(
        elements,
        decode=_decoder(charset if isinstance(charset, bytes) else None),
        keyword=keyword,
    )


class NotHandled(Exception):
    """A file this reader leaves to pydicom (deflated, or no transfer syntax)."""


def _meta(data: bytes) -> tuple[str, int]:
    """The transfer syntax of a Part 10 file and where its data set starts (after the file
    meta information, always explicit VR little endian)."""
    parser = _Parser(data, implicit=False, little=True, complete=True)
    pos, syntax = 132, None
    header = _HEADER[True]
    while pos + 8 <= len(data):
        group = header.unpack_from(data, pos)[0]
        if group != 0x0002:
            break
        elements, pos = parser.elements(pos, pos + _element_size(data, pos), delimited=False)
        for tag, _vr, value in elements:
            if tag == 0x00020010 and isinstance(value, bytes):
                syntax = value.decode("ascii", "replace").strip(" \x00")
    return syntax or "", pos


def _element_size(data: bytes, pos: int) -> int:
    """The size of the explicit VR little endian element at ``pos`` (file meta elements)."""
    if data[pos + 4 : pos + 6] in _LONG_VRS:
        if pos + 12 > len(data):
            raise NeedMore()
        size = 12 + int(_LONG[True].unpack_from(data, pos + 8)[0])
    else:
        size = 8 + int(_SHORT[True].unpack_from(data, pos + 6)[0])
    if pos + size > len(data):
        raise NeedMore()
    return size


def parse_file_bytes(data: bytes, size: int) -> Header:
    """The header of a Part 10 file from its first bytes (``size``: the whole file's size).
    Raises :class:`NeedMore`, ValueError (malformed or cut short), or :class:`NotHandled`."""
    if len(data) < 132 or data[128:132] != b"DICM":
        raise NotHandled("no DICM prefix")
    complete = len(data) >= size
    try:
        syntax, start = _meta(data)
        if not syntax or syntax == DEFLATED:
            raise NotHandled(syntax or "no transfer syntax")
    except (struct.error, IndexError) as error:
        raise ValueError(str(error)) from None
    except NeedMore:
        if complete:
            raise ValueError("truncated: the file ends inside the file meta information") from None
        raise
    parser = _Parser(
        data, implicit=syntax == IMPLICIT_LITTLE, little=syntax != EXPLICIT_BIG, complete=complete
    )
    try:
        elements, _ = parser.elements(start, len(data), delimited=False, top=True)
    except (struct.error, IndexError, UnicodeDecodeError) as error:
        raise ValueError(str(error)) from None
    if parser.pixel_data is not None:
        position, length = parser.pixel_data
        if length >= 0:
            header_size = 8 if syntax == IMPLICIT_LITTLE else 12
            missing = position + header_size + length - size
            if missing > 0:
                raise Truncated(f"truncated: the pixel data is {missing} bytes short")
    return header_of(elements)


class Truncated(Exception):
    """The file is cut short; the message says where."""


def dataset_header(ds: Dataset) -> Header:
    """The header of a pydicom dataset (in memory, or read by pydicom), through its explicit VR
    little endian encoding."""
    buffer = io.BytesIO()
    plain = Dataset(ds)  # the data set alone, without preamble or file meta
    encoding = getattr(ds, "original_encoding", (None, None))
    if encoding[0] is not None and hasattr(plain, "set_original_encoding"):
        plain.set_original_encoding(encoding[0], encoding[1], ds.original_character_set)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dcmwrite(buffer, plain, implicit_vr=False, little_endian=True)
        except TypeError:  # pragma: no cover (pydicom 2, as Debian 12 ships it)
            plain.is_implicit_VR, plain.is_little_endian = False, True
            dcmwrite(buffer, plain, write_like_original=True)
    data = buffer.getvalue()
    start = _meta(data)[1] if data[128:132] == b"DICM" else 0
    parser = _Parser(data, implicit=False, little=True, complete=True)
    elements, _ = parser.elements(start, len(data), delimited=False, top=True)
    return header_of([e for e in elements if e[0] >> 16 != 0x0002])


def check_dataset(ds: Dataset, path: str = "", profile: str = BASIC) -> HeaderResult:
    """Gate a pydicom dataset and pick out the index fields when it passes."""
    return check(dataset_header(ds), path, profile)


def read_header(path: str | os.PathLike[str], profile: str = BASIC) -> HeaderResult:
    """Read and gate one file's header (without pixel data). Never raises."""
    return read_headers([path], profile)[0]


def read_headers(
    paths: Iterable[str | os.PathLike[str]], profile: str = BASIC
) -> list[HeaderResult]:
    """:func:`read_header` for each path."""
    return [read_path(os.fspath(path), profile) for path in paths]


def read_path(path: str, profile: str = BASIC) -> HeaderResult:
    try:
        with open(path, "rb") as fp:
            size = os.fstat(fp.fileno()).st_size
            if size == 0:
                return HeaderResult(path, Status.UNREADABLE, "empty file")
            data = fp.read(FIRST_READ)
            try:
                try:
                    header = parse_file_bytes(data, size)
                except NeedMore:
                    header = parse_file_bytes(data + fp.read(), size)
            except Truncated as cut:
                return HeaderResult(path, Status.UNREADABLE, str(cut))
            except (ValueError, NotHandled):
                fp.seek(0)
                return _read_with_pydicom(fp, path, size, profile)
        return check(header, path, profile)
    except Exception as exc:  # one bad file must never stop an ingest
        message = str(exc).strip() or "no details"
        return HeaderResult(path, Status.UNREADABLE, f"{type(exc).__name__}: {message}"[:500])


def read_bytes(data: bytes, name: str, profile: str = BASIC) -> HeaderResult:
    """:func:`read_path` for a file held in memory."""
    return read_stream(data, len(data), lambda: b"", name, profile)


def read_stream(
    first: bytes, size: int, rest: Callable[[], bytes], name: str, profile: str = BASIC
) -> HeaderResult:
    """:func:`read_path` for a file of ``size`` bytes arriving as a stream (as an image server
    sends it): ``first`` is its beginning, ``rest()`` reads the remainder, called only when the
    header goes on past ``first``. Never raises."""
    try:
        data = first
        if not data:
            return HeaderResult(name, Status.UNREADABLE, "empty file")
        try:
            try:
                header = parse_file_bytes(data, size)
            except NeedMore:
                data += rest()
                header = parse_file_bytes(data, len(data))
        except Truncated as cut:
            return HeaderResult(name, Status.UNREADABLE, str(cut))
        except (ValueError, NotHandled):
            if len(data) < size:
                data += rest()
            return _read_with_pydicom(io.BytesIO(data), name, len(data), profile)
        return check(header, name, profile)
    except Exception as exc:  # one bad file must never stop an index run
        message = str(exc).strip() or "no details"
        return HeaderResult(name, Status.UNREADABLE, f"{type(exc).__name__}: {message}"[:500])


def _read_with_pydicom(fp: BinaryIO, path: str, size: int, profile: str) -> HeaderResult:
    """The files the direct reader leaves: pydicom reads them, or says why it cannot."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = dcmread(fp, stop_before_pixels=True)
        except InvalidDicomError:
            return HeaderResult(
                path,
                Status.UNREADABLE,
                "not a DICOM file (no 'DICM' prefix after a 128-byte preamble)",
            )
        truncated = _truncation(fp, ds, size)
        if truncated:
            return HeaderResult(path, Status.UNREADABLE, truncated)
        return check(dataset_header(ds), path, profile)


def _element_header(fp: BinaryIO, *, implicit: bool, little: bool) -> tuple[int, int] | None:
    """(header size, value length) of the element at the file position, None if unreadable."""
    order: Literal["little", "big"] = "little" if little else "big"
    head = fp.read(8)
    if len(head) < 8:
        return None
    if implicit:
        return 8, int.from_bytes(head[4:8], order)
    if head[4:6] in _LONG_VRS:
        rest = fp.read(4)
        if len(rest) < 4:
            return None
        return 12, int.from_bytes(rest, order)
    return 8, int.from_bytes(head[6:8], order)


def _truncation(fp: BinaryIO, ds: Dataset, size: int) -> str:
    """Why the file looks cut short, or "". pydicom stops quietly at the end of a short file.

    Reading stopped before the pixel data: its declared length must fit in the file. Reading
    reached the end of the file: the last element must end exactly there.
    """
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax == DEFLATED:
        return ""  # positions are in the inflated stream
    position = fp.tell()
    if position < size:
        implicit, little = ds.original_encoding
        header = _element_header(fp, implicit=bool(implicit), little=bool(little))
        if header is None:
            return f"truncated: the file ends inside the element header at byte {position}"
        header_size, length = header
        if length != 0xFFFFFFFF and position + header_size + length > size:
            missing = position + header_size + length - size
            return f"truncated: the pixel data is {missing} bytes short"
        return ""
    keys = list(ds.keys())
    if not keys:
        return "truncated: no data elements after the file meta information"
    last = ds.get_item(max(keys))
    if isinstance(last, RawDataElement) and last.length != 0xFFFFFFFF:
        end = last.value_tell + last.length
        if end > size or (last.value is not None and len(last.value) < last.length):
            return f"truncated: the file ends inside {tag_text(last.tag)}"
        if end < size:
            return "truncated: the file ends inside an element header"
    return ""

"""Where the indexer finds DICOM files: a folder of files, or an Orthanc's instances over its
REST API (on loopback, with an operator's credentials). Each item has a key, which the state
file records once the portal has its header, so a run again reads only what is new."""

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from ..deid import HeaderResult, Status
from ..portal_link import PortalError, basic_credentials, http_request
from .reader import FIRST_READ, read_path, read_stream

MAX_FILE_BYTES = 4 * 1024 * 1024 * 1024  # what the indexer takes from the image server at most
ORTHANC_PAGE = 1000


@dataclass(frozen=True)
class Item:
    key: str  # what the state file records
    location: str  # a path, or an Orthanc instance id
    name: str  # how the operator sees it in refusals


def folder_items(folders: list[str]) -> Iterator[Item]:
    """Every regular file under ``folders`` (recursively, in name order), each once. Symbolic
    links to files are followed, links to folders are not. A file's key is its path, size and
    modification time: a file changed since it was indexed is read again."""
    seen: set[str] = set()
    for given in folders:
        path = os.path.abspath(given)
        if os.path.isdir(path):
            files: Iterator[tuple[str, os.stat_result]] = _walk(path)
        elif os.path.isfile(path):
            files = iter([(path, os.stat(path))])
        else:
            continue
        for path, status in files:
            if path not in seen:
                seen.add(path)
                yield Item(f"file:{path}:{status.st_size}:{status.st_mtime_ns}", path, path)


def _walk(folder: str) -> Iterator[tuple[str, os.stat_result]]:
    """The regular files under ``folder`` with their status, in name order (one ``stat`` per
    file; links to files are followed, links to folders are not)."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path)
            elif entry.is_file():
                yield entry.path, entry.stat()
        except OSError:
            continue


@dataclass(frozen=True)
class FolderReader:
    """Reads a file's header (in a worker process)."""

    profile: str

    def __call__(self, item: Item) -> tuple[Item, HeaderResult]:
        return item, read_path(item.location, self.profile)


@dataclass(frozen=True)
class Orthanc:
    """An Orthanc's REST API on loopback."""

    url: str
    authorization: str = ""
    timeout: float = 60.0

    @classmethod
    def at(cls, url: str, user: str = "", password: str = "") -> "Orthanc":
        auth = basic_credentials(user, password) if user else ""
        return cls(url.rstrip("/"), auth)

    def get(self, path: str, *, max_bytes: int = 64 * 1024 * 1024) -> bytes:
        headers = {"Authorization": self.authorization} if self.authorization else {}
        status, _headers, body = http_request(
            self.url + path, headers=headers, timeout=self.timeout, max_bytes=max_bytes
        )
        if status != 200:
            raise PortalError(f"GET {self.url}{path}: the image server answered {status}")
        return body

    def items(self) -> Iterator[Item]:
        """Every instance Orthanc stores, a page at a time."""
        since = 0
        while True:
            query = urllib.parse.urlencode({"since": since, "limit": ORTHANC_PAGE})
            page = json.loads(self.get(f"/instances?{query}"))
            if not isinstance(page, list):
                raise PortalError("the image server's instance list is not a list")
            for instance in page:
                if isinstance(instance, str):
                    yield Item(f"orthanc:{instance}", instance, f"orthanc instance {instance}")
            if len(page) < ORTHANC_PAGE:
                return
            since += len(page)


@dataclass(frozen=True)
class OrthancReader:
    """Reads an instance's header from the file Orthanc stores (in a worker process). The file
    is read as it arrives and the connection closed once the header is parsed: the pixel data
    is not read, and only the header values leave this machine."""

    orthanc: Orthanc
    profile: str

    def __call__(self, item: Item) -> tuple[Item, HeaderResult]:
        path = f"/instances/{urllib.parse.quote(item.location, safe='')}/file"
        headers = (
            {"Authorization": self.orthanc.authorization} if self.orthanc.authorization else {}
        )
        request = urllib.request.Request(self.orthanc.url + path, headers=headers)  # noqa: S310 (a checked loopback URL)
        try:
            with urllib.request.urlopen(request, timeout=self.orthanc.timeout) as answer:  # noqa: S310
                size = int(answer.headers.get("Content-Length") or MAX_FILE_BYTES)
                first = answer.read(FIRST_READ)

                def rest() -> bytes:
                    return bytes(answer.read(MAX_FILE_BYTES))

                return item, read_stream(first, size, rest, item.name, self.profile)
        except urllib.error.HTTPError as error:
            reason = f"the image server answered {error.code}"
        except (OSError, ValueError) as error:
            reason = f"the image server could not be read: {error}"
        return item, HeaderResult(item.name, Status.UNREADABLE, reason)

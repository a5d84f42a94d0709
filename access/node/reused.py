"""The requests nginx allowed by reusing an allow of the gatekeeper (docs/node.md, "Reused
allows"), read back for the access reports.

nginx appends one line per such request to a log file (``log_format ecii_reused`` in
``nginx-http.conf``: ``ecii-reused <msec> <jti> <study>``); :class:`ReusedLog` follows that file
and hands each line to the gatekeeper, which reports it like a decision of its own. A file loses
nothing when the gatekeeper is busy or down: it is read from where the gatekeeper stopped, kept
in the state directory (the file's inode and offset), and a rotated file (moved away, nginx told
to reopen its logs) is read to its end before the new one, also when it was rotated while the
gatekeeper was stopped (then as ``<path>.1``, logrotate's name for it, until it is compressed).
"""

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("ecii.gatekeeper")

MARKER = "ecii-reused"
MAX_LINE = 4096  # bytes: a longer line is not nginx's and is skipped


def parse_line(line: bytes) -> tuple[str, str, float] | None:
    """The token id, study and time of one line, or None if it is not one (the event's fields
    are checked again when it is recorded)."""
    fields = line.decode("ascii", "replace").split()
    if len(fields) != 4 or fields[0] != MARKER:
        return None
    _marker, at, jti, study = fields
    try:
        return jti, study, float(at)
    except ValueError:
        return None


class ReusedLog:
    """Follows nginx's log of reused allows at ``path``, remembering its position in
    ``position_file``; :meth:`read` passes every complete new line's request to ``record``."""

    def __init__(
        self, path: Path, position_file: Path, record: Callable[[str, str, float], None]
    ) -> None:
        self.path, self.position_file, self.record = path, position_file, record
        self._handle: BinaryIO | None = None
        self._inode: int | None = None
        self._offset = 0
        self._restore()

    def _restore(self) -> None:
        try:
            saved = json.loads(self.position_file.read_text(encoding="utf-8"))
            self._inode, self._offset = int(saved["inode"]), int(saved["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            self._inode, self._offset = None, 0

    def _save(self) -> None:
        temporary = self.position_file.with_suffix(".tmp")
        temporary.write_text(json.dumps({"inode": self._inode, "offset": self._offset}))
        os.replace(temporary, self.position_file)

    def _open(self) -> bool:
        """Open the file at ``path``: where the gatekeeper stopped if it is the same file, else
        from its start. False while there is no file."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return False
        stat = os.fstat(handle.fileno())
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            self._inode, self._offset = stat.st_ino, 0  # another file, or one cut short
        handle.seek(self._offset)
        self._handle = handle
        return True

    def read(self) -> int:
        """Record every complete line written since the last read; how many were recorded."""
        count = 0
        if self._handle is None:
            count += self._read_rotated()
            if not self._open():
                return count
        count += self._read_handle()
        try:
            replaced = os.stat(self.path).st_ino != self._inode
        except FileNotFoundError:
            replaced = False  # moved away and not yet reopened by nginx: keep reading this one
        if replaced:
            count += self._read_handle()  # the rest of the rotated file, then the new one
            assert self._handle is not None
            self._handle.close()
            self._handle, self._inode, self._offset = None, None, 0
            if self._open():
                count += self._read_handle()
        return count

    def _read_rotated(self) -> int:
        """When the file the gatekeeper stopped in is no longer at ``path`` (logrotate moved it
        while the gatekeeper was stopped), read that file on from where it stopped: logrotate's
        first rotated name, ``<path>.1``, if it is the same file (its inode). A file already
        compressed or rotated further is not read, and that is logged."""
        if self._inode is None:
            return 0
        try:
            if os.stat(self.path).st_ino == self._inode:
                return 0
        except FileNotFoundError:
            pass
        rotated = self.path.with_name(self.path.name + ".1")
        try:
            handle: BinaryIO | None = rotated.open("rb")
        except OSError:
            handle = None
        if handle is None or os.fstat(handle.fileno()).st_ino != self._inode:
            if handle is not None:
                handle.close()
            log.warning(
                "%s was rotated while the gatekeeper was stopped and %s is not that file: the "
                "reused allows nginx logged to it after byte %d are not reported",
                self.path,
                rotated,
                self._offset,
            )
            self._inode, self._offset = None, 0
            return 0
        self._handle = handle
        try:
            return self._read_handle()
        finally:
            handle.close()
            self._handle = None

    def _read_handle(self) -> int:
        assert self._handle is not None
        self._handle.seek(self._offset)
        data = self._handle.read()
        end = data.rfind(b"\n") + 1  # a line nginx is still writing waits for the next read
        count = 0
        for line in data[:end].splitlines():
            request = parse_line(line) if len(line) <= MAX_LINE else None
            if request is None:
                log.warning("not a reused allow in %s: %r", self.path, line[:200])
                continue
            self.record(*request)
            count += 1
        if end:
            self._offset += end
            self._save()
        return count

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

"""The indexer's state file: the keys of the items whose header the portal has, one a line,
appended (and flushed to disk) after each batch the portal accepted. A run reads it first and
skips those items, so an interrupted run resumes and a finished one, run again, sends
nothing."""

import os
from collections.abc import Iterable
from pathlib import Path


class State:
    def __init__(self, path: Path):
        self.path = path
        self.done: set[str] = set()
        if path.exists():
            with path.open(encoding="utf-8") as lines:
                self.done = {line.rstrip("\n") for line in lines if line.strip()}

    def __contains__(self, key: str) -> bool:
        return key in self.done

    def add(self, keys: Iterable[str]) -> None:
        new = [key for key in keys if key not in self.done]
        if not new:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write("".join(f"{key}\n" for key in new))
            out.flush()
            os.fsync(out.fileno())
        self.done.update(new)

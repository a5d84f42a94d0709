"""Test settings: the portal's settings with a fast password hasher and in-memory email."""

import os
import tempfile
from pathlib import Path

from portal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
# A test's rows are its transaction's: a thread reading the feasibility index would not see them.
FEASIBILITY_MEMORY_BACKGROUND = False

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not SQLite's shared in-memory database: there a write by the live server's thread
    # (a node's report reaching the portal) fails at once with "database table is locked"
    # where a file waits its turn (OPTIONS timeout). Nothing needs it durable.
    # One per process (each test worker, and each run beside another), deleted at the end.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"ecii-test-{os.getpid()}.sqlite3")
    }
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA synchronous=OFF"  # noqa: F405

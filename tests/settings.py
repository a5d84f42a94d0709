"""Test settings: the portal's settings with a fast password hasher and in-memory email."""

from portal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
# A test's rows are its transaction's: a thread reading the feasibility index would not see them.
FEASIBILITY_MEMORY_BACKGROUND = False

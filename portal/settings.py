"""Settings of the portal, read from the environment.

``PORTAL_MODE`` is ``development`` (the default: SQLite, DEBUG, console email) or ``production``
(PostgreSQL through ``DATABASE_URL``, secrets required, HTTPS only). Secrets can be given as
``NAME`` or ``NAME_FILE``. docs/configuration.md lists every variable.
"""

import ipaddress
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from portal.audit_keys import DEVELOPMENT_AUDIT_KEYS, parse_audit_keys
from portal.env import database_from_url, env, envbool, envint, envlist, envsecret
from portal.signing_kek import DEVELOPMENT_SIGNING_KEK, parse_signing_kek

BASE_DIR = Path(__file__).resolve().parent.parent

PORTAL_MODE = env("PORTAL_MODE", "development")
if PORTAL_MODE not in {"development", "production"}:
    raise ImproperlyConfigured("PORTAL_MODE must be 'development' or 'production'")
PRODUCTION = PORTAL_MODE == "production"

DEBUG = False if PRODUCTION else envbool("DJANGO_DEBUG", True)
SECRET_KEY = envsecret(
    "SECRET_KEY",
    required=PRODUCTION,
    default="development-only-key-never-used-in-production-0123456789abcdefghijkl",
)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1]")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the portal's host names in production")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
# The health data access body that runs this portal, as named in the DCAT export.
HDAB_NAME = env("HDAB_NAME", "Health data access body of the imaging atlas")
# The public address of the portal, used in emails, token issuers and the DCAT export.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
HDAB_EMAIL = env("HDAB_EMAIL", "hdab@localhost")
HDAB_URL = env("HDAB_URL", SITE_URL + "/")
# The public register and the page for citizens (docs/register.md, docs/configuration.md).
# Working days follow the public holidays of this member state (ISO 3166 code, e.g. ES, NO)
# and, optionally, one of its regions; empty: only weekends are days off.
HDAB_COUNTRY = env("HDAB_COUNTRY", "")
HDAB_HOLIDAY_REGION = env("HDAB_HOLIDAY_REGION", "")
HDAB_ADDRESS = env("HDAB_ADDRESS", "")
HDAB_PHONE = env("HDAB_PHONE", "")
# Where citizens complain about the use of their personal data (the national supervisory
# authority under the GDPR), and how they opt out where national law allows it (Art 71).
SUPERVISORY_AUTHORITY_NAME = env("SUPERVISORY_AUTHORITY_NAME", "")
SUPERVISORY_AUTHORITY_URL = env("SUPERVISORY_AUTHORITY_URL", "")
OPT_OUT_INFORMATION = env("OPT_OUT_INFORMATION", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "guardian",
    "portal",
    "catalogue",
    "access",
    "consent",
    "axes",  # login throttling: portal/login_security.py
]

MIDDLEWARE = [
    "portal.api_errors.ApiErrorsMiddleware",  # first: every error under /api/ is JSON
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "portal.middleware.RequestBodyCapMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a refused login into the lockout page
    "portal.middleware.MethodNotAllowedPageMiddleware",  # a form's address opened on its own
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    },
]

# Databases: SQLite beside the code unless DATABASE_URL says otherwise; production requires it.
_database_url = envsecret("DATABASE_URL", required=PRODUCTION)
DATABASES: dict[str, dict[str, Any]] = {
    "default": database_from_url(_database_url, base_dir=BASE_DIR)
    if _database_url
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Writers take the lock when a transaction starts, so appends to the audit chain serialise.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The HMAC keys that sign the audit chain: {"signing": id, "keys": {id: key, ...}}. Old keys
# stay to verify older events (docs/configuration.md, docs/operations.md).
AUDIT_KEYS = parse_audit_keys(
    envsecret("AUDIT_KEYS", required=PRODUCTION, default=DEVELOPMENT_AUDIT_KEYS),
    production=PRODUCTION,
)

# Access tokens (docs/tokens.md). The key-encryption key that protects the private signing keys
# at rest; older KEKs stay readable until `manage.py signing_keys rewrap`.
SIGNING_KEK = parse_signing_kek(
    envsecret("SIGNING_KEK", required=PRODUCTION, default=DEVELOPMENT_SIGNING_KEK),
    envlist("SIGNING_KEK_PREVIOUS"),
    production=PRODUCTION,
)
# The algorithm of new signing keys: ES256 (P-256) or Ed25519. Never "none", never HMAC.
SIGNING_ALGORITHM = env("SIGNING_ALGORITHM", "ES256")
if SIGNING_ALGORITHM not in {"ES256", "Ed25519"}:
    raise ImproperlyConfigured("SIGNING_ALGORITHM must be ES256 or Ed25519")
# Development creates the first signing keys when a token is first asked for; production
# needs `manage.py signing_keys create`.
SIGNING_KEYS_AUTO_CREATE = not PRODUCTION
ACCESS_TOKEN_LIFETIME = envint("ACCESS_TOKEN_LIFETIME", 3600)  # seconds, at most 3600
TOKEN_CLIENT_ID = env("TOKEN_CLIENT_ID", "ecii-portal")  # the client_id claim of tokens
STATUS_LIST_TTL = envint("STATUS_LIST_TTL", 60)  # seconds a node may cache a status list
STATUS_LIST_SIZE = envint("STATUS_LIST_SIZE", 65536)  # entries per status list
STUDY_MAP_TTL = envint("STUDY_MAP_TTL", 300)  # seconds before a node syncs its study map again
STUDY_MAP_LIFETIME = envint("STUDY_MAP_LIFETIME", 86400)  # a study map's exp, after its iat
# The consent exclusion list: a node uses its copy this long before asking again (the delay
# before a withdrawal is enforced), its signed exp, and how many versions of changes are kept
# for nodes that ask for a delta.
EXCLUSION_LIST_TTL = envint("EXCLUSION_LIST_TTL", 60)
EXCLUSION_LIST_LIFETIME = envint("EXCLUSION_LIST_LIFETIME", 86400)
EXCLUSION_DELTA_RETENTION = envint("EXCLUSION_DELTA_RETENTION", 1000)
# What the consent decision is for a person without a consent in force: permit under EHDS's
# opt-out model, deny to make secondary use opt-in (docs/consent.md).
CONSENT_DEFAULT = env("CONSENT_DEFAULT", "permit")
if CONSENT_DEFAULT not in {"permit", "deny"}:
    raise ImproperlyConfigured("CONSENT_DEFAULT must be permit or deny")
# Cohort feasibility counts below this are shown as "fewer than N"; shown counts are rounded
# to a multiple of FEASIBILITY_ROUNDING (docs/catalogue.md#cohort-feasibility).
FEASIBILITY_MIN_COUNT = envint("FEASIBILITY_MIN_COUNT", 10)
FEASIBILITY_ROUNDING = envint("FEASIBILITY_ROUNDING", 10)
# Counts from the index held in each worker's memory (about 60 bytes an entry), or, when false,
# one aggregate in the database per question.
FEASIBILITY_IN_MEMORY = envbool("FEASIBILITY_IN_MEMORY", True)
# Read in a thread, the database answering meanwhile (false: the first question waits for it).
FEASIBILITY_MEMORY_BACKGROUND = envbool("FEASIBILITY_MEMORY_BACKGROUND", True)
if FEASIBILITY_MIN_COUNT < 1 or FEASIBILITY_ROUNDING < 1:
    raise ImproperlyConfigured("FEASIBILITY_MIN_COUNT and FEASIBILITY_ROUNDING must be at least 1")
# The feasibility indexes include their criterion columns on PostgreSQL, so that counts are read
# from an index alone; SQLite (development) keeps only the key columns, which is all it needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
# A retired signing key stays in the JWKS this long, so that what it signed still verifies.
SIGNING_KEY_RETENTION = envint("SIGNING_KEY_RETENTION", 2 * 86400)
if not 60 <= ACCESS_TOKEN_LIFETIME <= 3600:
    raise ImproperlyConfigured("ACCESS_TOKEN_LIFETIME must be 60 to 3600 seconds")
if not 1 <= STATUS_LIST_TTL <= 3600:
    raise ImproperlyConfigured("STATUS_LIST_TTL must be 1 to 3600 seconds")
if not 8 <= STATUS_LIST_SIZE <= 1_048_576 or STATUS_LIST_SIZE % 4:
    raise ImproperlyConfigured("STATUS_LIST_SIZE must be a multiple of 4 from 8 to 1048576")
if not 1 <= STUDY_MAP_TTL <= STUDY_MAP_LIFETIME:
    raise ImproperlyConfigured("STUDY_MAP_TTL must be at least 1 and at most STUDY_MAP_LIFETIME")
if not 1 <= EXCLUSION_LIST_TTL <= min(3600, EXCLUSION_LIST_LIFETIME):
    raise ImproperlyConfigured(
        "EXCLUSION_LIST_TTL must be 1 to 3600 seconds and at most EXCLUSION_LIST_LIFETIME"
    )
if EXCLUSION_DELTA_RETENTION < 1:
    raise ImproperlyConfigured("EXCLUSION_DELTA_RETENTION must be at least 1")
_SIGNED_LIFETIMES = (
    ACCESS_TOKEN_LIFETIME,
    2 * STATUS_LIST_TTL,
    STUDY_MAP_LIFETIME,
    EXCLUSION_LIST_LIFETIME,
)
if max(_SIGNED_LIFETIMES) > SIGNING_KEY_RETENTION:
    raise ImproperlyConfigured(
        "SIGNING_KEY_RETENTION must cover everything a retired key signed: at least "
        "ACCESS_TOKEN_LIFETIME, twice STATUS_LIST_TTL, STUDY_MAP_LIFETIME and "
        "EXCLUSION_LIST_LIFETIME"
    )

_redis_url = envsecret("REDIS_URL", required=False)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}
    if _redis_url
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# People
AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked login attempt in every login view, before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # django-guardian: anonymous visitors hold no object permissions
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (portal/login_security.py; the policy is in docs/configuration.md).
# Failures of one account from one address before that pair is locked; each further lock of
# the pair within a day doubles, from LOGIN_LOCKOUT_SECONDS up to LOGIN_LOCKOUT_MAX_SECONDS.
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
# Failures from one address (any accounts) before the address is locked.
LOGIN_FAILURE_IP_LIMIT = envint("LOGIN_FAILURE_IP_LIMIT", 50)
# Failures of one account from all addresses before it is locked for addresses its owner has
# not signed in from within LOGIN_KNOWN_ADDRESS_DAYS.
LOGIN_FAILURE_ACCOUNT_LIMIT = envint("LOGIN_FAILURE_ACCOUNT_LIMIT", 20)
LOGIN_LOCKOUT_SECONDS = envint("LOGIN_LOCKOUT_SECONDS", 15 * 60)
LOGIN_LOCKOUT_MAX_SECONDS = envint("LOGIN_LOCKOUT_MAX_SECONDS", 24 * 60 * 60)
LOGIN_KNOWN_ADDRESS_DAYS = envint("LOGIN_KNOWN_ADDRESS_DAYS", 30)
# Events about failed logins (and failed single sign-on returns) written per window at most.
LOGIN_AUDIT_EVENTS_PER_WINDOW = envint("LOGIN_AUDIT_EVENTS_PER_WINDOW", 200)
# Password reset requests per address, and per email address, within the window.
PASSWORD_RESET_ADDRESS_LIMIT = envint("PASSWORD_RESET_ADDRESS_LIMIT", 10)
PASSWORD_RESET_EMAIL_LIMIT = envint("PASSWORD_RESET_EMAIL_LIMIT", 3)
PASSWORD_RESET_WINDOW_SECONDS = envint("PASSWORD_RESET_WINDOW_SECONDS", 60 * 60)
# Reverse proxies (addresses or networks) whose X-Forwarded-For is believed.
TRUSTED_PROXIES = envlist("TRUSTED_PROXIES")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network ({_exc})"
        ) from _exc
# django-axes runs the portal's own policy (portal.login_security.LoginThrottle).
AXES_HANDLER = "portal.login_security.LoginThrottle"
AXES_CLIENT_IP_CALLABLE = "portal.login_security.client_ip"
AXES_USERNAME_CALLABLE = "portal.login_security.attempted_username"
AXES_LOCKOUT_CALLABLE = "portal.login_security.lockout_response"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address", "username"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a refused attempt does not count
AXES_ENABLE_ADMIN = False  # the counters live in the cache, not in axes' tables
AXES_VERBOSE = False
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 8 * 60 * 60)

# Team invitations a researcher may send (over all their applications) in any hour and any
# 24 hours: each is portal mail to an address they choose.
INVITATIONS_PER_HOUR = envint("INVITATIONS_PER_HOUR", 20)
INVITATIONS_PER_DAY = envint("INVITATIONS_PER_DAY", 50)
if min(INVITATIONS_PER_HOUR, INVITATIONS_PER_DAY) < 1:
    raise ImproperlyConfigured("INVITATIONS_PER_HOUR and INVITATIONS_PER_DAY must be at least 1")

# OpenID Connect login (LS Login, Keycloak or any issuer with a discovery document).
OIDC_DISCOVERY_URL = env("OIDC_DISCOVERY_URL")
OIDC_CLIENT_ID = env("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = envsecret(
    "OIDC_CLIENT_SECRET", required=bool(PRODUCTION and OIDC_DISCOVERY_URL)
)
OIDC_PROVIDER_NAME = env("OIDC_PROVIDER_NAME", "LS Login")
OIDC_SCOPES = env("OIDC_SCOPES", "openid email profile")
# Roles given to a person the first time they log in through OpenID Connect.
OIDC_DEFAULT_ROLES = envlist("OIDC_DEFAULT_ROLES", "researcher")

# Internationalisation
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Static and uploaded files: every asset is served from the project, none from a CDN.
STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"

# Request bodies: a body declared larger than its route's cap is refused with 413 before it is
# read (portal/middleware.py). Uploads are accepted only on the routes named below.
REQUEST_BODY_MAX_BYTES = envint("REQUEST_BODY_MAX_BYTES", 2_621_440)
ETHICS_FILE_MAX_BYTES = envint("ETHICS_FILE_MAX_BYTES", 10 * 1024 * 1024)
DICOM_UPLOAD_MAX_BYTES = envint("DICOM_UPLOAD_MAX_BYTES", 1024 * 1024 * 1024)
if min(REQUEST_BODY_MAX_BYTES, ETHICS_FILE_MAX_BYTES, DICOM_UPLOAD_MAX_BYTES) < 1:
    raise ImproperlyConfigured("The *_MAX_BYTES settings must be positive numbers of bytes")
REQUEST_BODY_UPLOAD_CAPS = {
    # The ethics approval, with the rest of the application form around it.
    "access:application_edit": ETHICS_FILE_MAX_BYTES + REQUEST_BODY_MAX_BYTES,
    "access_api:application_ethics": ETHICS_FILE_MAX_BYTES + REQUEST_BODY_MAX_BYTES,
    # DICOM files to ingest, on the dataset page and the API.
    "catalogue:dataset_ingest": DICOM_UPLOAD_MAX_BYTES,
    "catalogue_api:dataset_ingest": DICOM_UPLOAD_MAX_BYTES,
}
# The form fields of a body (files excluded) that Django keeps in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES

# Email: the console in development, SMTP in production.
_mail_backend = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
_mail_options = {}
if _mail_backend.endswith("smtp.EmailBackend"):
    _mail_options = {
        "host": env("EMAIL_HOST", "localhost"),
        "port": envint("EMAIL_PORT", 25),
        "username": env("EMAIL_HOST_USER") or None,
        "password": envsecret("EMAIL_HOST_PASSWORD", required=False) or None,
        "use_tls": envbool("EMAIL_USE_TLS", False),
        "timeout": envint("EMAIL_TIMEOUT", 10),
    }
MAILERS = {"default": {"BACKEND": _mail_backend, "OPTIONS": _mail_options}}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "ECII portal <no-reply@localhost>")

# Security headers. The content security policy allows no inline script and no other origin.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if envbool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "portal.api_schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "portal.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ECII governance, consent and access API",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # ``<id:pk>`` (portal.ids): a primary key, 1 to 2**63 - 1.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}
    },
    # Several models have a ``status``; name each set of choices after its model.
    "ENUM_NAME_OVERRIDES": {
        "DatasetStatusEnum": "catalogue.models.Dataset.Status",
        "ApplicationStatusEnum": "access.models.Application.Status",
        "ReviewStatusEnum": "access.models.Review.Status",
        "TeamMemberStatusEnum": "access.models.TeamMember.Status",
        "PermitStatusEnum": "access.models.Permit.Status",
        "AccessTokenStatusEnum": "access.api.tokens.TOKEN_STATES",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}

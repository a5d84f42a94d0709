"""Login throttling, the client's address, and how failed logins reach the audit chain.

django-axes does the wiring: its authentication backend refuses a locked attempt in every view
that calls ``authenticate()`` (the portal's login, the Django admin's login, the password
confirmation of the single sign-on link page), its middleware turns a refusal into the lockout
page, and it calls the hooks below for the client's address and the attempted user name.

The counting policy is :class:`LoginThrottle`, an axes handler (``AXES_HANDLER``). Axes' own
handlers compare every counter against one ``AXES_FAILURE_LIMIT`` and lock for one fixed time;
they cannot express a limit per account *and* address that grows with each lock, a much higher
limit per address, and a limit per account that spares the addresses its owner signs in from
(docs/configuration.md, "Login throttling"). The counters live in the cache (Redis when
``REDIS_URL`` is set, so every worker shares them).
"""

import hashlib
import ipaddress
import logging
import time
from functools import lru_cache

from axes.handlers.base import AbstractAxesHandler, AxesBaseHandler
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.audit import audit_record
from portal.models import normalise_username

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# -- The client's address -------------------------------------------------------------------


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_proxy_networks() -> tuple:
    """``settings.TRUSTED_PROXIES`` as networks (validated when the settings load)."""
    return _networks(tuple(settings.TRUSTED_PROXIES))


def _parse_address(text: str) -> IPAddress | None:
    """An address from a header or REMOTE_ADDR, tolerating a port and IPv6 brackets."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1 : text.find("]")] if "]" in text else text[1:]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_ip(request: HttpRequest) -> str:
    """The address of the person's computer, looking through the trusted reverse proxies only.

    ``REMOTE_ADDR`` is the client unless it is one of ``settings.TRUSTED_PROXIES``. Then
    ``X-Forwarded-For`` is read from the right, the end each proxy appends to, skipping trusted
    proxies; the first address that is not a trusted proxy is the client. Anything to its left
    was written by the client and is never believed. An unreadable entry stops the walk at the
    last address a trusted proxy vouched for.
    """
    remote_text = request.META.get("REMOTE_ADDR") or ""
    remote = _parse_address(remote_text)
    if remote is None:
        return remote_text[:64] or "unknown"
    networks = trusted_proxy_networks()

    def trusted(address: IPAddress) -> bool:
        return any(address in network for network in networks)

    if not trusted(remote):
        return str(remote)
    client = remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for entry in reversed([part for part in forwarded.split(",") if part.strip()]):
        address = _parse_address(entry)
        if address is None:
            break
        client = address
        if not trusted(address):
            break
    return str(client)


def address_key(ip: str) -> str:
    """What the per-address limits count: an IPv4 address, or the /64 network of an IPv6 one.

    One IPv6 subscriber usually holds a whole /64, so counting single IPv6 addresses would give
    an attacker billions of fresh counters.
    """
    address = _parse_address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address) if address is not None else ip


def attempted_username(request: HttpRequest, credentials: dict | None = None) -> str:
    """The user name a login attempt names, normalised as stored (axes' ``USERNAME_CALLABLE``)."""
    value = (credentials or {}).get("username")
    if value is None and request is not None:
        value = request.POST.get("username")
    return normalise_username(str(value or ""))[:150]


# -- Cache helpers ------------------------------------------------------------------------------


def _key(*parts: str) -> str:
    """A cache key that stays short and safe whatever the user name holds."""
    digest = hashlib.sha256("\x1f".join(parts[1:]).encode()).hexdigest()[:40]
    return f"login:{parts[0]}:{digest}"


def _incr(key: str, timeout: int, delta: int = 1) -> int:
    """Add ``delta`` to a counter; a new counter expires ``timeout`` seconds after it starts."""
    if cache.add(key, delta, timeout):
        return delta
    try:
        return cache.incr(key, delta)
    except ValueError:  # expired between add() and incr()
        cache.set(key, delta, timeout)
        return delta


def _window() -> int:
    return settings.LOGIN_LOCKOUT_SECONDS


# -- The throttle ----------------------------------------------------------------------------

PAIR = "account_address"
ADDRESS = "address"
ACCOUNT = "account"


class LoginThrottle(AbstractAxesHandler, AxesBaseHandler):
    """The portal's login lockout policy, as a django-axes handler.

    - An account and address pair is locked after ``LOGIN_FAILURE_LIMIT`` failures within
      ``LOGIN_LOCKOUT_SECONDS``. Each further lock of the same pair within a day doubles the
      time, up to ``LOGIN_LOCKOUT_MAX_SECONDS``.
    - An address is locked for ``LOGIN_LOCKOUT_SECONDS`` after ``LOGIN_FAILURE_IP_LIMIT``
      failures for any accounts.
    - An account is locked after ``LOGIN_FAILURE_ACCOUNT_LIMIT`` failures from all addresses,
      progressively like a pair, but only for addresses that have not signed in to it within
      ``LOGIN_KNOWN_ADDRESS_DAYS``: its owner keeps signing in from their usual places.

    While locked, the password is not even checked. A success clears the pair's counters.
    """

    # axes' handler API ---------------------------------------------------------------------

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        """Whether this attempt is refused, without checking the password."""
        username = attempted_username(request, credentials)
        lock = self._lock_for(username, address_key(request.axes_ip_address))
        request.portal_lock_seconds = lock
        return lock is not None

    def get_failures(self, request, credentials: dict | None = None) -> int:
        username = attempted_username(request, credentials)
        return cache.get(_key("pair", username, address_key(request.axes_ip_address)), 0)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        """Count a failure (or a refused attempt while locked) and lock when a limit is reached."""
        if request is None:
            logger.warning("Login failure without a request: not counted")
            return
        username = attempted_username(request, credentials)
        address = address_key(request.axes_ip_address)
        if getattr(request, "axes_locked_out", False):
            # Refused by the backend: nothing more is counted, so a lock does not grow by itself.
            logger.debug("Login refused while locked: %r from %s", username, address)
            audit_refused_attempt(username)
            return
        window = _window()
        failures = _incr(_key("pair", username, address), window)
        on_address = _incr(_key("addr", address), window)
        on_account = _incr(_key("acct", username), window)
        logger.warning(
            "Login failed for %r from %s (%d for this pair, %d from this address)",
            username,
            address,
            failures,
            on_address,
        )
        locks: dict[str, int] = {}
        if failures >= settings.LOGIN_FAILURE_LIMIT:
            cache.delete(_key("pair", username, address))
            locks[PAIR] = self._lock(_key("pairlock", username, address), progressive=True)
        if on_address >= settings.LOGIN_FAILURE_IP_LIMIT:
            cache.delete(_key("addr", address))
            locks[ADDRESS] = self._lock(_key("addrlock", address), progressive=False)
        if on_account >= settings.LOGIN_FAILURE_ACCOUNT_LIMIT:
            cache.delete(_key("acct", username))
            locks[ACCOUNT] = self._lock(_key("acctlock", username), progressive=True)
        if locks:
            logger.warning("Login locked for %r from %s: %s", username, address, locks)
            audit_lockout(username, locks, failures)
        elif failures == 1:
            audit_first_failure(username)
        else:
            audit_refused_attempt(username)

    def user_logged_in(self, sender, request, user, **kwargs):
        """A success clears the pair's counters and makes the address one of the owner's."""
        if request is None:
            return
        username = user.get_username()
        address = address_key(request.axes_ip_address)
        cache.delete_many(
            [
                _key("pair", username, address),
                _key("pairlock", username, address),
                _key("pairlock", username, address) + "-n",
            ]
        )
        cache.set(_key("known", username, address), True, settings.LOGIN_KNOWN_ADDRESS_DAYS * 86400)
        audit_login_succeeded(username)

    def user_logged_out(self, sender, request, user, **kwargs):
        return None

    def reset_attempts(self, *, ip_address=None, username=None, ip_or_username=False) -> int:
        """Lift locks and counters (axes' ``axes_reset_*`` commands)."""
        keys = []
        name = normalise_username(username) if username else None
        address = address_key(ip_address) if ip_address else None
        if name and address:
            pair = (_key("pair", name, address), _key("pairlock", name, address))
            keys += [*pair, pair[1] + "-n"]
        if address and (ip_or_username or not name):
            keys += [_key("addr", address), _key("addrlock", address)]
        if name and (ip_or_username or not address):
            keys += [_key("acct", name), _key("acctlock", name), _key("acctlock", name) + "-n"]
        cache.delete_many(keys)
        return len(keys)

    # the policy -------------------------------------------------------------------------

    @staticmethod
    def _lock(key: str, *, progressive: bool) -> int:
        """Lock ``key``; returns the lock's length in seconds."""
        seconds = _window()
        if progressive:
            locks_today = _incr(key + "-n", settings.LOGIN_LOCKOUT_MAX_SECONDS)
            seconds = min(seconds * 2 ** (locks_today - 1), settings.LOGIN_LOCKOUT_MAX_SECONDS)
        cache.set(key, time.time() + seconds, seconds)
        return seconds

    @staticmethod
    def _lock_for(username: str, address: str) -> int | None:
        """Seconds left on the lock that applies to this attempt, or None when it may go on."""
        until = [
            cache.get(_key("addrlock", address)),
            cache.get(_key("pairlock", username, address)),
        ]
        account_lock = cache.get(_key("acctlock", username))
        if account_lock and not cache.get(_key("known", username, address)):
            until.append(account_lock)
        until = [u for u in until if u]
        if not until:
            return None
        return max(1, round(max(until) - time.time()))


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """The login page with a clear refusal (axes' ``LOCKOUT_CALLABLE``), for every login view."""
    seconds = getattr(request, "portal_lock_seconds", None) or _window()
    minutes = max(1, round(seconds / 60))
    message = _(
        "Too many failed logins. For your safety this login is locked for a while: "
        "try again later or reset your password."
    )
    wait = ngettext(
        "You can try again in about %(minutes)d minute.",
        "You can try again in about %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
    context = {
        "form": AuthenticationForm(request),
        "next": request.POST.get("next", "") if request.method == "POST" else "",
        "lockout_message": message,
        "lockout_wait": wait,
    }
    response = render(request, "registration/login.html", context)
    response["Retry-After"] = str(seconds)
    return response


# -- Failed logins in the audit chain ----------------------------------------------------------
#
# Anyone can fail a login without signing in, so failures are aggregated before they reach the
# chain: the first failure of an account from an address in a window, one event per lock, and
# one summary with the count of everything in between, written at the account's next event or
# successful login. On top of that, at most LOGIN_AUDIT_EVENTS_PER_WINDOW such events are
# written per window for the whole portal; past it, attempts are only counted and one summary
# follows at the next event of a later window or the next successful login.


def _global_window() -> int:
    return int(time.time() // _window())


def _write(action: str, details: dict, *, attempts: int, budget: str = "login") -> bool:
    """Write one event of an unauthenticated kind unless this window's budget for it is spent.

    ``budget`` names the kind ("login" or "oidc"), so that one kind cannot crowd out the other.
    """
    window = _global_window()
    written = _incr(_key("audit-n", budget, str(window)), 2 * _window())
    limit = settings.LOGIN_AUDIT_EVENTS_PER_WINDOW
    if written == 1:
        _flush_unrecorded_windows(budget, window)
    if written <= limit:
        audit_record(action, details=details)
        return True
    if written == limit + 1:
        audit_record(
            "portal.session.failures_throttled",
            details={"kind": budget, "limit": limit, "window_seconds": _window()},
        )
    _incr(_key("audit-dropped", budget, str(window)), 2 * _window(), attempts)
    return False


def _flush_unrecorded_windows(budget: str, window: int) -> None:
    """Summarise the attempts of earlier windows (and ``window`` itself) over the budget."""
    for earlier in (window, window - 1, window - 2):
        key = _key("audit-dropped", budget, str(earlier))
        dropped = cache.get(key)
        if dropped and cache.delete(key):
            audit_record(
                "portal.session.failures_summary",
                details={"kind": budget, "attempts": dropped, "window_seconds": _window()},
            )


def _flush_account(username: str) -> None:
    """Write the account's pending summary, if attempts were counted since its last event."""
    key = _key("audit-pending", username)
    pending = cache.get(key)
    if pending and cache.delete(key):
        _write(
            "portal.session.failures_summary",
            {"username": username, "attempts": pending},
            attempts=pending,
        )


def audit_first_failure(username: str) -> None:
    _flush_account(username)
    _write("portal.session.login_failed", {"username": username}, attempts=1)


def audit_lockout(username: str, locks: dict[str, int], failures: int) -> None:
    _flush_account(username)
    _write(
        "portal.session.locked_out",
        {"username": username, "locks": locks, "failures": failures},
        attempts=1,
    )


def audit_refused_attempt(username: str) -> None:
    """A failure or refused attempt that gets no event of its own: counted for the summary."""
    _incr(_key("audit-pending", username), settings.LOGIN_LOCKOUT_MAX_SECONDS)


def audit_login_succeeded(username: str) -> None:
    _flush_account(username)
    _flush_unrecorded_windows("login", _global_window())


def audit_oidc_failure(reason: str) -> None:
    """A failed single sign-on return: recorded within the "oidc" budget of the window."""
    _write("portal.session.oidc_failed", {"reason": reason}, attempts=1, budget="oidc")


# -- Other requests anyone can make ------------------------------------------------------------


def rate_limit_reached(subject: tuple[str, ...], limit: int, window: int) -> bool:
    """Count one request for ``subject``; True when it is over ``limit`` within ``window`` s.

    A refused request is not counted, so the limit lifts ``window`` seconds after the first
    request that was let through.
    """
    key = _key("rate", *subject)
    if cache.get(key, 0) >= limit:
        return True
    _incr(key, window)
    return False

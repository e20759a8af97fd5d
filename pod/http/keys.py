"""Typed application keys (aiohttp AppKey): the app's shared state, one key per component."""

from __future__ import annotations

import asyncio

from aiohttp import web
from jinja2 import Environment

from pod.accounts.service import AccountService
from pod.accounts.tombstones import Tombstones
from pod.acl.authorizer import Authorizer
from pod.auth.authenticate import Authenticator
from pod.cache import LruCache
from pod.config import Settings
from pod.feed import ChangeFeed
from pod.fetch import Fetcher
from pod.http.answers import Answers
from pod.http.i18n import Pages
from pod.http.sessions import Sessions
from pod.idp.provider import Provider
from pod.ldp.isolation import IsolatedWorker
from pod.ldp.quotas import Quotas
from pod.ldp.resources import ResourceStore
from pod.ldp.shapes import ShapeConstraints
from pod.model import Credentials
from pod.ratelimit import RateLimiter
from pod.rights.erasure import Erasure
from pod.rights.exporting import Exports
from pod.vault.choices import StandingChoices
from pod.vault.disclosures import DisclosureLog
from pod.vault.overview import ProfileNames
from pod.vault.reader import GrantReader
from pod.vault.requests import RequestBook

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", ResourceStore)
AUTHORIZER = web.AppKey("authorizer", Authorizer)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
FETCHER = web.AppKey("fetcher", Fetcher)
FEED = web.AppKey("feed", ChangeFeed)
ACCOUNTS = web.AppKey("accounts", AccountService)
PROVIDER = web.AppKey("provider", Provider)
SESSIONS = web.AppKey("sessions", Sessions)
TEMPLATES = web.AppKey("templates", Environment)
PAGES = web.AppKey("pages", Pages)  # the page templates and catalogs, in every language
PATCH_WORKER = web.AppKey("patch_worker", IsolatedWorker)
SHAPES = web.AppKey("shapes", ShapeConstraints)  # containers constrained by a SHACL shape
ANSWERS = web.AppKey("answers", Answers)  # kept answers to anonymous reads
GRANTS = web.AppKey("grants", GrantReader)  # purpose-bound grants, by (WebID, client)
REQUESTS = web.AppKey("requests", RequestBook)  # access requests
NAMES = web.AppKey("names", ProfileNames)  # who asks, by the name their profile gives
CHOICES = web.AppKey("choices", StandingChoices)  # purposes owners refuse once and for all
QUOTAS = web.AppKey("quotas", Quotas)  # each pod's limit and usage
EXPORTS = web.AppKey("exports", Exports)  # pod exports under way
TOMBSTONES = web.AppKey("tombstones", Tombstones)  # names held after an erasure, receipts
ERASURE = web.AppKey("erasure", Erasure)  # erasing pods and accounts (pod.rights.erasure)
# The erase page's tickets: ticket -> the erasure (job id) whose progress and receipt it shows.
ERASE_TICKETS: web.AppKey[dict[str, str]] = web.AppKey("erase_tickets")
ASK_LIMITS = web.AppKey("ask_limits", RateLimiter)  # access requests per requester and storage
# The owners' access logs; None when `disclosure_log` is off.
DISCLOSURES: web.AppKey[DisclosureLog | None] = web.AppKey("disclosures")
# Response headers of resources, by what they depend on (see `pod.http.ldp._resource_headers`).
HEADERS: web.AppKey[
    LruCache[tuple[str, str, str | None, str | None], tuple[tuple[str, str], ...]]
] = web.AppKey("headers")


class InFlight:
    """Counts requests being handled, so shutdown can wait for them to finish."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until no request is in flight."""
        await self._idle.wait()


IN_FLIGHT = web.AppKey("in_flight", InFlight)


class Warned:
    """The kinds of configuration warning already logged: each is logged once, at the first
    request that shows it (pod.http.proxies.warn_about_origin)."""

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        # The Host header of the last request seen without proxy headers whose scheme and
        # host matched base_url: the same header again needs no check.
        self.fine_host: str | None = None


WARNED = web.AppKey("warned", Warned)
REQUEST_ID = web.RequestKey("request_id", str)
CREDENTIALS = web.RequestKey("credentials", Credentials)

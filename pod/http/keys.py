"""Typed application keys (aiohttp AppKey): the app's shared state, one key per component."""

from __future__ import annotations

from aiohttp import web

from pod.acl.decide import Authorizer
from pod.config import Settings
from pod.ldp.store import SolidStore
from pod.model import Credentials

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", SolidStore)
AUTHORIZER = web.AppKey("authorizer", Authorizer)

REQUEST_ID = web.RequestKey("request_id", str)
CREDENTIALS = web.RequestKey("credentials", Credentials)

"""The operator's JSON API under `<base>.account/api/admin/`, which `kluis admin` calls.

Who may call it: whoever can read the operator's files. At every start the server writes a new
random token to `Settings.admin_token_path` (mode 0600; `admin_token_file`), and a request must
send it as `Authorization: Bearer`. The file is the truth: it is read per request (the API is
rare), so every process serving the same data directory accepts the token the last one wrote.
Without the right token, or with the API off (memory storage and no `admin_token_file`), every
route answers 404 as an unknown path does, whatever the method (`METHODS`; any other falls
through to the resource handler, as it does for an unknown path): the routes do not announce
themselves. Like the rest of `.account/`, no CORS, and the same-origin guard of
`pod.http.middlewares` applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import hdrs, web

from pod.accounts.service import RESET_LIFETIME, Account, all_accounts
from pod.errors import BadRequest, MethodNotAllowed, NotFound
from pod.http.bodies import read_json
from pod.http.keys import ACCOUNTS, ERASURE, PROVIDER, QUOTAS, SESSIONS, SETTINGS, STORE
from pod.storage.claim import FILE_MODE, make_dirs

PREFIX: Final = ".account/api/admin/"
# The methods an admin path and an unknown `.account/` path answer alike without the token;
# named one by one (not "*"), so the router lists each route with its method.
METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def not_found(request: web.Request) -> NotFound:
    """What an unknown path under `.account/` answers (pod.http.routes), and so what an admin
    route answers without its token."""
    return NotFound(f"{request.path} does not exist")


# --- the token -----------------------------------------------------------------------------


def write_admin_token(path: Path) -> None:
    """Write a new random token to `path`, readable by the owner only, replacing the old one
    atomically (a reader never sees half a token)."""
    make_dirs(path.parent)
    temporary = path.with_name(f".{path.name}~{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        try:
            os.write(fd, secrets.token_urlsafe(32).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _stored_token(path: Path) -> bytes | None:
    try:
        return path.read_bytes().strip() or None
    except OSError:
        return None


async def _check_token(request: web.Request) -> None:
    """Raise the unknown path's NotFound unless the request carries the token in the file."""
    path = request.app[SETTINGS].admin_token_path
    scheme, _, sent = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if path is None or scheme.lower() != "bearer" or not sent.strip():
        raise not_found(request)
    stored = await asyncio.to_thread(_stored_token, path)
    # Constant time: the comparison tells nothing about how much of a guess was right.
    if stored is None or not hmac.compare_digest(sent.strip().encode(), stored):
        raise not_found(request)


def _admin(methods: Mapping[str, _Handler]) -> _Handler:
    """One route for every method: the token is checked before the method, so a wrong method
    without it is a 404 too, not a 405 that would say the path exists."""

    async def handle(request: web.Request) -> web.StreamResponse:
        await _check_token(request)
        handler = methods.get(request.method)
        if handler is None:
            raise MethodNotAllowed(f"{request.method} is not allowed here", allowed=tuple(methods))
        return await handler(request)

    return handle


# --- the commands ----------------------------------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


async def _account_of(request: web.Request) -> Account:
    email = (await _body(request)).get("email")
    if not isinstance(email, str) or not email:
        raise BadRequest("email is required (a string)")
    return await request.app[ACCOUNTS].by_email(email)


def _pod_root(request: web.Request) -> str:
    name = request.match_info["name"]
    root = f"/{name}/"
    if not request.app[STORE].storages.is_root(root):
        raise NotFound(f"there is no pod named {name!r}")
    return root


async def _pod_json(request: web.Request, name: str, root: str) -> dict[str, Any]:
    used, limit = await request.app[QUOTAS].usage(root)
    return {
        "name": name,
        "root": request.app[STORE].url(root),
        "used": used,
        "quota": limit or None,
    }


def _account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "created": datetime.fromtimestamp(account.created, UTC).isoformat(timespec="seconds"),
        "disabled": account.disabled,
    }


async def get_accounts(request: web.Request) -> web.StreamResponse:
    """Every account with its pods, their usage and quota (bytes; null: none)."""
    service = request.app[ACCOUNTS]
    listed = []
    for account in await all_accounts(service.kv):
        pods = [
            {**await _pod_json(request, pod.name, f"/{pod.name}/"), "webId": pod.webid}
            for pod in service.pods(account)
        ]
        listed.append({**_account_json(account), "pods": pods})
    return web.json_response({"accounts": listed})


async def put_quota(request: web.Request) -> web.StreamResponse:
    """`{"quota": bytes}` gives the pod a limit of its own, `null` none at all, and
    `"default"` the setting `pod_quota_bytes` again."""
    root = _pod_root(request)
    body = await _body(request)
    if "quota" not in body:
        raise BadRequest('quota is required: a number of bytes, null (no limit) or "default"')
    quota = body["quota"]
    quotas = request.app[QUOTAS]
    if quota == "default":
        await quotas.use_default_limit(root)
    elif quota is None:
        await quotas.set_limit(root, None)
    elif isinstance(quota, int) and not isinstance(quota, bool) and quota >= 0:
        await quotas.set_limit(root, quota)
    else:
        raise BadRequest('quota must be a number of bytes (0 or more), null or "default"')
    return web.json_response(await _pod_json(request, request.match_info["name"], root))


async def post_recount(request: web.Request) -> web.StreamResponse:
    """Walk the pod and make its usage counter what the walk finds."""
    root = _pod_root(request)
    await request.app[QUOTAS].recount(root)
    return web.json_response(await _pod_json(request, request.match_info["name"], root))


async def post_disable(request: web.Request) -> web.StreamResponse:
    """Disable an account: log-in refused, its page sessions and API tokens deleted, the
    access tokens of its apps refused from the next request on, in every process."""
    account = await _account_of(request)
    await request.app[ACCOUNTS].set_disabled(account, True)
    sessions = await request.app[SESSIONS].logins.end_all(account.id)
    await request.app[PROVIDER].revoke_everything(account)
    return web.json_response({**_account_json(account), "sessionsEnded": sessions})


async def post_enable(request: web.Request) -> web.StreamResponse:
    account = await _account_of(request)
    await request.app[ACCOUNTS].set_disabled(account, False)
    return web.json_response(_account_json(account))


async def post_reset_link(request: web.Request) -> web.StreamResponse:
    """A one-time password-reset link for the account, valid RESET_LIFETIME seconds."""
    account = await _account_of(request)
    token = await request.app[ACCOUNTS].issue_reset(account)
    link = request.app[SETTINGS].base_url + ".account/reset?" + urlencode({"token": token})
    return web.json_response(
        {**_account_json(account), "link": link, "expiresIn": RESET_LIFETIME}, status=201
    )


async def post_erase(request: web.Request) -> web.StreamResponse:
    """Erase an account (`{"email"}`), or one of its pods (`{"email", "pod"}`), as its owner can
    on the erase page but without its password (pod.rights.erasure): the receipt and the
    reclaim code, shown this once."""
    body = await _body(request)
    email, pod = body.get("email"), body.get("pod")
    if not isinstance(email, str) or not email:
        raise BadRequest("email is required (a string)")
    if pod is not None and (not isinstance(pod, str) or not pod):
        raise BadRequest("pod must be a pod's name (a string), or left out to erase the account")
    account = await request.app[ACCOUNTS].by_email(email)
    receipt, code = await request.app[ERASURE].erase(
        account, password=None, pods=None if pod is None else [pod]
    )
    return web.json_response(
        {"receipt": receipt.as_json(), "reclaimCode": code},
        headers={"Cache-Control": "no-store"},
    )


def add_admin_routes(app: web.Application, *, base_path: str) -> None:
    a = base_path + PREFIX
    for path, methods in (
        ("accounts", {"GET": get_accounts}),
        ("pods/{name}/quota", {"PUT": put_quota}),
        ("pods/{name}/recount", {"POST": post_recount}),
        ("disable", {"POST": post_disable}),
        ("enable", {"POST": post_enable}),
        ("reset-links", {"POST": post_reset_link}),
        ("erase", {"POST": post_erase}),
    ):
        handler = _admin(methods)
        for method in METHODS:
            app.router.add_route(method, a + path, handler)

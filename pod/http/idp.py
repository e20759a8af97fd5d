"""OpenID Provider endpoints: discovery, JWKS, authorization, token, userinfo, logout, registration.

Thin: parse the HTTP request, call the Provider, render OAuth errors as RFC 6749 JSON (or, at the
authorization endpoint, as a redirect back to the client or a page for the user).
"""

from __future__ import annotations

import time
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import hdrs, web
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, OAuth2Error

from pod.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    Unauthenticated,
    UnsupportedMediaType,
)
from pod.http.account import (
    continue_authorization,
    redirect,
    render,
    send_back,
    session_account,
)
from pod.http.authn import credentials_of
from pod.http.bodies import read_form, read_json
from pod.http.i18n import N_
from pod.http.keys import PROVIDER, SESSIONS
from pod.http.proxies import client_address
from pod.idp.oauth_errors import error_text
from pod.idp.provider import CannotRedirect, origin_of

# RFC 7591 client metadata is a handful of short fields; anyone may register, so keep it small.
REGISTRATION_BYTES: Final = 16 * 1024
# What a bad body is, as opposed to a stalled one (RequestTimeout: 408 and the connection closes).
_BAD_BODY: Final = (BadRequest, PayloadTooLarge, UnsupportedMediaType)
_NO_STORE: Final = {hdrs.CACHE_CONTROL: "no-store", hdrs.PRAGMA: "no-cache"}


def endpoints(base_url: str) -> dict[str, str]:
    o = base_url + ".oidc/"
    return {
        "authorization": o + "auth",
        "token": o + "token",
        "jwks": o + "jwks",
        "registration": o + "reg",
        "userinfo": o + "userinfo",
        "end_session": o + "session/end",
    }


def oauth_error(error: OAuth2Error) -> web.Response:
    body: dict[str, str] = {"error": str(error.error)}
    if error.description:
        body["error_description"] = error.description
    status = int(error.status_code or 400)
    if isinstance(error, InvalidClientError):
        status = 401  # RFC 6749 §5.2, with a challenge for the Basic scheme
    response = web.json_response(body, status=status, headers=_NO_STORE)
    if status == 401:
        response.headers[hdrs.WWW_AUTHENTICATE] = 'Basic realm="token"'
    return response


async def get_configuration(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[PROVIDER].configuration())


async def get_jwks(request: web.Request) -> web.StreamResponse:
    return web.json_response(
        await request.app[PROVIDER].keys.public_jwks(), content_type="application/jwk-set+json"
    )


async def get_authorize(request: web.Request) -> web.StreamResponse:
    provider = request.app[PROVIDER]
    if request.method == "GET":
        params = dict(request.query)
    else:
        params = await read_form(request)
    try:
        auth = await provider.begin(params)
    except CannotRedirect as exc:
        return await render(
            request,
            "message.html",
            status=400,
            title=N_("This app cannot sign you in"),
            message=N_(
                "The app sent a sign-in request that Kluis cannot send an answer back to. "
                "If this keeps happening, tell the people who make the app."
            ),
            details=str(exc.description),
        )
    except OAuth2Error as exc:
        query: dict[str, str] = {
            "error": str(exc.error),
            "error_description": exc.description or "",
        }
        if exc.state is not None:
            query["state"] = exc.state
        query["iss"] = provider.issuer
        separator = "&" if "?" in exc.redirect_uri else "?"
        _, account = await session_account(request)
        return await send_back(
            request,
            account,
            client_id=params.get("client_id", ""),
            redirect_uri=exc.redirect_uri,
            location=exc.redirect_uri + separator + urlencode(query),
            message=N_("The app's sign-in request is not valid."),
            details=exc.description or None,
            status=400,
        )
    session, account = await session_account(request)
    return await continue_authorization(request, auth, session, account)


async def post_token(request: web.Request) -> web.StreamResponse:
    try:
        form = await read_form(request)
    except _BAD_BODY as exc:  # RFC 6749 §5.2: token endpoint errors are OAuth JSON
        return oauth_error(InvalidRequestError(description=error_text(exc.message)))
    try:
        tokens = await request.app[PROVIDER].token(
            form,
            authorization=request.headers.get(hdrs.AUTHORIZATION),
            dpop=request.headers.get("DPoP"),
        )
    except OAuth2Error as exc:
        return oauth_error(exc)
    return web.json_response(tokens, headers=_NO_STORE)


async def userinfo(request: web.Request) -> web.StreamResponse:
    credentials = await credentials_of(request)
    if credentials.agent is None:
        raise Unauthenticated("send the access token to get user info")
    return web.json_response(
        {"sub": credentials.agent, "webid": credentials.agent}, headers=_NO_STORE
    )


async def end_session(request: web.Request) -> web.StreamResponse:
    """OIDC RP-Initiated Logout 1.0 §2-3: an app's request (GET or POST) shows a confirmation
    page; only a POST of that page's form (with its CSRF token) logs out, so another site cannot
    log anyone out with a link, and the app's `post_logout_redirect_uri` is followed only after
    that choice (never an open redirect)."""
    provider = request.app[PROVIDER]
    if request.method == "POST":
        params = await read_form(request)
    else:
        params = dict(request.query)
    hint = params.get("id_token_hint")
    wanted = params.get("post_logout_redirect_uri")
    try:
        target = await provider.logout_redirect(
            id_token_hint=hint, post_logout_redirect_uri=wanted, state=params.get("state")
        )
    except OAuth2Error as exc:
        return await render(
            request,
            "message.html",
            status=400,
            title=N_("Cannot log out here"),
            message=N_(
                "The app that sent you here asked for something Kluis cannot do, so you were "
                "not logged out. You can log out on your account page."
            ),
            details=str(exc.description),
        )
    session, account = await session_account(request)
    csrf = params.get("csrf")
    if csrf is None:  # an app's GET or POST: ask first
        return await render(
            request,
            "logout.html",
            session=session,
            account=account,
            title=N_("Log out of Kluis?"),
            # The switch of a POSTed confirmation page comes back to it as a GET.
            back=_logout_page(request, params),
            target=target,
            destination=None if target is None else origin_of(target),
            fields={k: v for k, v in params.items() if k in _LOGOUT_FIELDS},
        )
    if request.method != "POST" or not request.app[SESSIONS].check_csrf(session, csrf):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page and try again")
    response: web.Response
    if target is not None:
        response = redirect(request, target)
    else:
        response = await render(
            request,
            "message.html",
            title=N_("Logged out"),
            message=N_("You are logged out of Kluis."),
        )
    await request.app[SESSIONS].end(session, response)
    return response


_LOGOUT_FIELDS: Final = ("id_token_hint", "post_logout_redirect_uri", "state")


def _logout_page(request: web.Request, params: dict[str, str]) -> str:
    fields = {k: v for k, v in params.items() if k in _LOGOUT_FIELDS}
    return request.path + ("?" + urlencode(fields) if fields else "")


async def post_registration(request: web.Request) -> web.StreamResponse:
    try:
        metadata: Any = await read_json(request, limit=REGISTRATION_BYTES)
    except _BAD_BODY as exc:  # RFC 7591 §3.2.2: errors are OAuth JSON
        error = InvalidRequestError(description=error_text(exc.message))
        error.error = "invalid_client_metadata"
        return oauth_error(error)
    try:
        client, secret = await request.app[PROVIDER].clients.register(
            metadata, address=client_address(request)
        )
    except OAuth2Error as exc:
        exc.error = "invalid_client_metadata" if exc.error == "invalid_request" else exc.error
        return oauth_error(exc)
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "redirect_uris": list(client.redirect_uris),
        "token_endpoint_auth_method": client.auth_method,
        "grant_types": list(client.grant_types),
        "response_types": ["code"],
        "client_id_issued_at": int(time.time()),
    }
    if client.name:
        body["client_name"] = client.name
    if client.post_logout_redirect_uris:
        body["post_logout_redirect_uris"] = list(client.post_logout_redirect_uris)
    if secret is not None:
        body["client_secret"] = secret
        body["client_secret_expires_at"] = 0
    return web.json_response(body, status=201, headers=_NO_STORE)


def add_idp_routes(app: web.Application, *, base_path: str) -> None:
    r = app.router
    r.add_get(base_path + ".well-known/openid-configuration", get_configuration)
    o = base_path + ".oidc/"
    r.add_get(o + "jwks", get_jwks)
    r.add_get(o + "auth", get_authorize)
    r.add_post(o + "auth", get_authorize)
    r.add_post(o + "token", post_token)
    r.add_get(o + "userinfo", userinfo)
    r.add_post(o + "userinfo", userinfo)
    r.add_get(o + "session/end", end_session)
    r.add_post(o + "session/end", end_session)
    r.add_post(o + "reg", post_registration)

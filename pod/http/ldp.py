"""The Solid resource handler: GET/HEAD/OPTIONS/PUT/POST/PATCH/DELETE on any pod path.

Each request is parsed once (path, conditions, body), checked by the Authorizer with the modes the
operation needs (`pod.acl.modes`), then handed to the SolidStore; the answer gets the Solid headers
(Link, Allow, Accept-*, ETag, WAC-Allow).
"""

from __future__ import annotations

import asyncio
import functools
from email.utils import formatdate
from typing import Final

from aiohttp import hdrs, web

from pod import paths
from pod.acl.decide import Allowed
from pod.acl.modes import needed_modes
from pod.errors import (
    BackendUnavailable,
    BadRequest,
    Forbidden,
    InvalidPatch,
    MethodNotAllowed,
    NotFound,
    RangeNotSatisfiable,
    Unauthenticated,
    UnsupportedMediaType,
)
from pod.http import headers
from pod.http.authn import credentials_of, target_path
from pod.http.bodies import read_body
from pod.http.keys import AUTHORIZER, PATCH_WORKER, SETTINGS, STORE
from pod.ldp import rdf
from pod.ldp.conditions import NO_CONDITIONS, Conditions, Outcome, evaluate
from pod.ldp.isolation import Overrun, WorkerCrashed
from pod.ldp.patch import (
    SPARQL_PARSE_SECONDS,
    SPARQL_UPDATE,
    Patch,
    parse_patch,
    patch_media_type,
)
from pod.ldp.store import SolidStore, WriteResult
from pod.model import Metadata
from pod.vocab import LDP, PIM, SOLID

STORAGE_DESCRIPTION: Final = ".well-known/solid"
_STORAGE_DESCRIPTION_SUFFIX: Final = "/" + STORAGE_DESCRIPTION
_TYPE_RESOURCE: Final = headers.link(str(LDP.Resource), "type")
_TYPE_CONTAINER: Final = ", ".join(
    headers.link(str(t), "type") for t in (LDP.Container, LDP.BasicContainer)
)
_TYPE_RDF_SOURCE: Final = headers.link(str(LDP.RDFSource), "type")
_TYPE_NON_RDF: Final = headers.link(str(LDP.NonRDFSource), "type")
_TYPE_STORAGE: Final = headers.link(str(PIM.Storage), "type")
_CONTAINER_TYPES: Final = frozenset({str(LDP.BasicContainer), str(LDP.Container)})
_VARY: Final = "Accept, Authorization, Origin"


async def handle_resource(request: web.Request) -> web.StreamResponse:
    """Entry point for every path that is not a server endpoint."""
    settings = request.app[SETTINGS]
    raw = target_path(request)
    if raw.endswith(_STORAGE_DESCRIPTION_SUFFIX):
        return await _storage_description(request, raw[: -len(STORAGE_DESCRIPTION)])
    path = paths.parse_url_path(raw, settings.base_path)
    method = request.method
    if method in (hdrs.METH_GET, hdrs.METH_HEAD):
        return await _get(request, path)
    if method == hdrs.METH_OPTIONS:
        return await _options(request, path)
    if method == hdrs.METH_PUT:
        return await _put(request, path)
    if method == hdrs.METH_POST:
        return await _post(request, path)
    if method == hdrs.METH_PATCH:
        return await _patch(request, path)
    if method == hdrs.METH_DELETE:
        return await _delete(request, path)
    raise MethodNotAllowed(
        f"{method} is not supported", allowed=_allowed_methods(path, None, request.app[STORE])
    )


# --- reading ----------------------------------------------------------------------------


async def _get(request: web.Request, path: str) -> web.StreamResponse:
    store = request.app[STORE]
    credentials = await credentials_of(request)
    authorizer = request.app[AUTHORIZER]
    await authorizer.authorize(
        credentials=credentials, needs=needed_modes("GET", path, exists=_never)
    )
    accept = request.headers.get(hdrs.ACCEPT)
    byte_range = await _byte_range(request, store, path)
    try:
        rep = await store.get(path, accept=accept, byte_range=byte_range)
    except NotFound as exc:
        # Only readers get this far, so the methods tell nothing OPTIONS would not.
        raise NotFound(exc.message, allowed=_allowed_methods(path, None, store)) from exc
    allowed = await authorizer.allowed(credentials=credentials, path=path)
    outcome = evaluate(
        _conditions(request), etag=rep.etag, modified=rep.metadata.modified, safe_method=True
    )
    if outcome is Outcome.NOT_MODIFIED:
        response = web.Response(status=304)
        _resource_headers(response, store, path, rep.metadata, allowed=allowed)
        _validators(response, rep.etag, rep.metadata.modified)
        return response
    status = 206 if rep.byte_range is not None else 200
    response = web.Response(status=status, body=rep.data, content_type=None)
    response.headers[hdrs.CONTENT_TYPE] = rep.content_type
    if rep.byte_range is not None:
        start, end = rep.byte_range
        response.headers[hdrs.CONTENT_RANGE] = f"bytes {start}-{end - 1}/{rep.metadata.size}"
    if not rep.is_rdf:
        response.headers[hdrs.ACCEPT_RANGES] = "bytes"
    _resource_headers(response, store, path, rep.metadata, allowed=allowed)
    _validators(response, rep.etag, rep.metadata.modified)
    return response


async def _byte_range(request: web.Request, store: SolidStore, path: str) -> slice | None:
    """The absolute byte range requested of a non-RDF resource, or None for the whole body."""
    if hdrs.RANGE not in request.headers or paths.is_container(path):
        return None
    try:
        requested = request.http_range
    except ValueError:
        return None  # RFC 9110 §14.2: a server may ignore a Range it cannot parse
    meta = await store.stat(path)
    if meta is None or rdf.is_rdf_type(meta.content_type):
        return None
    if_range = request.headers.get(hdrs.IF_RANGE)
    if if_range is not None and if_range.strip().strip('"') != meta.version:
        return None
    size = meta.size
    start, stop = requested.start, requested.stop
    if start is None and stop is None:
        return None
    if start is not None and start < 0:  # suffix range: the last -start bytes
        start, stop = max(0, size + start), size
    start = start or 0
    stop = size if stop is None else min(stop, size)
    if start >= size or start >= stop:
        raise RangeNotSatisfiable(f"range starts beyond the {size}-byte body", size=size)
    return slice(start, stop)


async def _options(request: web.Request, path: str) -> web.StreamResponse:
    """What the target supports. Only someone who may read it learns whether it exists and
    what kind it is; to anyone else it answers as a resource that could be created would
    (Solid Protocol #server-unauthenticated: missing and forbidden look alike)."""
    store = request.app[STORE]
    try:
        await request.app[AUTHORIZER].authorize(
            credentials=await credentials_of(request),
            needs=needed_modes("GET", path, exists=_never),
        )
    except (Unauthenticated, Forbidden):
        meta = None
    else:
        meta = await store.stat(path)
    response = web.Response(status=204)
    _resource_headers(response, store, path, meta)
    return response


async def _storage_description(request: web.Request, root_raw: str) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    store = request.app[STORE]
    root = paths.parse_url_path(root_raw, settings.base_path)
    if not store.is_storage_root(root):
        raise BadRequest("no storage here: .well-known is a reserved name")
    if request.method not in (hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS):
        raise MethodNotAllowed(
            "the storage description is read-only", allowed=("GET", "HEAD", "OPTIONS")
        )
    body = await store.storage_description(root)
    response = web.Response(body=body, content_type=None)
    response.headers[hdrs.CONTENT_TYPE] = rdf.TURTLE
    response.headers[hdrs.ALLOW] = "GET, HEAD, OPTIONS"
    response.headers[hdrs.VARY] = _VARY
    return response


# --- writing ----------------------------------------------------------------------------


async def _put(request: web.Request, path: str) -> web.StreamResponse:
    store = request.app[STORE]
    existing = await _existing(store, path)
    await request.app[AUTHORIZER].authorize(
        credentials=await credentials_of(request),
        needs=needed_modes("PUT", path, exists=existing.__contains__),
    )
    data = await read_body(request)
    result = await store.put(
        path, data=data, content_type=_content_type(request, data), conditions=_conditions(request)
    )
    return await _written(store, result)


async def _written(store: SolidStore, result: WriteResult) -> web.Response:
    """201 with Location for a create, 204 for a replace; the new ETag and the resource's
    Link headers either way (clients such as Inrupt's read the ACL link from a write's answer)."""
    response = web.Response(status=201 if result.created else 204)
    if result.created:
        response.headers[hdrs.LOCATION] = store.url(result.path)
    _resource_headers(response, store, result.path, await store.stat(result.path))
    response.headers[hdrs.ETAG] = f'"{result.etag}"'
    return response


async def _post(request: web.Request, path: str) -> web.StreamResponse:
    store = request.app[STORE]
    await request.app[AUTHORIZER].authorize(
        credentials=await credentials_of(request), needs=needed_modes("POST", path, exists=_never)
    )
    data = await read_body(request)
    as_container = bool(headers.link_types(request.headers.get(hdrs.LINK)) & _CONTAINER_TYPES)
    result = await store.post(
        path,
        data=data,
        content_type=_content_type(request, data),
        slug=request.headers.get("Slug"),
        as_container=as_container,
    )
    return await _written(store, result)


async def _patch(request: web.Request, path: str) -> web.StreamResponse:
    store = request.app[STORE]
    settings = request.app[SETTINGS]
    authorizer = request.app[AUTHORIZER]
    content_type = request.headers.get(hdrs.CONTENT_TYPE)
    if content_type is None:
        raise BadRequest("a PATCH body needs a Content-Type header")
    media = patch_media_type(content_type)  # 415 for any other type: a fact of the request
    existing = await _existing(store, path)
    credentials = await credentials_of(request)
    # What every patch needs, checked before the body is read: whoever may not patch here gets
    # 401/403 without making the server read, parse or match anything (issue 10).
    await authorizer.authorize(
        credentials=credentials, needs=needed_modes("PATCH", path, exists=existing.__contains__)
    )
    data = await read_body(request, limit=min(settings.max_patch_bytes, settings.max_body_bytes))
    patch = await _parse(request, data, content_type, media, store.url(path))
    # Checked again, in full, once the body has arrived (an ACL may have changed meanwhile).
    await authorizer.authorize(
        credentials=credentials,
        needs=needed_modes("PATCH", path, exists=existing.__contains__, patch=patch),
    )
    # Only now, so that the answer tells nothing about a resource one may not touch.
    meta = await store.stat(path)
    if meta is not None and not meta.is_container and not rdf.is_rdf_type(meta.content_type):
        raise UnsupportedMediaType(
            f"{path} is not an RDF document, so it cannot be patched; replace it with PUT",
            accepted=(),
        )
    result = await store.patch(path, patch, conditions=_conditions(request))
    return await _written(store, result)


async def _parse(
    request: web.Request, data: bytes, content_type: str, media: str, base: str
) -> Patch:
    """Parse a patch off the event loop: N3 in a thread (rdflib's N3 parser is linear, a few
    microseconds per byte at worst), SPARQL Update in the worker process, within its limit."""
    if media != SPARQL_UPDATE:
        return await asyncio.to_thread(parse_patch, data, content_type, base=base)
    try:
        return await request.app[PATCH_WORKER].run(
            SPARQL_PARSE_SECONDS, parse_patch, data, content_type, base=base
        )
    except Overrun as exc:
        raise InvalidPatch(
            f"the SPARQL Update took longer than {SPARQL_PARSE_SECONDS:g} s to parse; send it "
            "in smaller parts, or as an N3 Patch"
        ) from exc
    except WorkerCrashed as exc:
        raise BackendUnavailable("the SPARQL Update parser stopped; try again") from exc


async def _delete(request: web.Request, path: str) -> web.StreamResponse:
    store = request.app[STORE]
    store.check_deletable(path)  # 405 whoever asks: it is a property of the target
    await request.app[AUTHORIZER].authorize(
        credentials=await credentials_of(request), needs=needed_modes("DELETE", path, exists=_never)
    )
    await store.delete(path, conditions=_conditions(request))
    return web.Response(status=204)


# --- request parsing ----------------------------------------------------------------------


def _never(_: str) -> bool:
    return False


async def _existing(store: SolidStore, path: str) -> set[str]:
    """Which of `path` and its ancestors exist, up to the nearest existing ancestor."""
    found: set[str] = set()
    if await store.stat(path) is not None:
        found.add(path)
        return found
    for ancestor in paths.ancestors(path):
        if await store.stat(ancestor) is not None:
            found.add(ancestor)
            break
    return found


def _content_type(request: web.Request, data: bytes) -> str | None:
    value = request.headers.get(hdrs.CONTENT_TYPE)
    if value is None:
        if data:
            # Solid Protocol #server-content-type-missing
            raise BadRequest("a request with a body needs a Content-Type header")
        return None
    return value


def _conditions(request: web.Request) -> Conditions:
    h = request.headers
    if not any(
        name in h
        for name in (
            hdrs.IF_MATCH,
            hdrs.IF_NONE_MATCH,
            hdrs.IF_MODIFIED_SINCE,
            hdrs.IF_UNMODIFIED_SINCE,
        )
    ):
        return NO_CONDITIONS
    if_match = request.if_match
    if_none_match = request.if_none_match
    modified_since = request.if_modified_since
    unmodified_since = request.if_unmodified_since
    return Conditions(
        if_match=None if if_match is None else tuple(e.value for e in if_match[:64]),
        if_none_match=None if if_none_match is None else tuple(e.value for e in if_none_match[:64]),
        if_modified_since=None if modified_since is None else modified_since.timestamp(),
        if_unmodified_since=None if unmodified_since is None else unmodified_since.timestamp(),
    )


# --- response headers ---------------------------------------------------------------------


def _allowed_methods(path: str, meta: Metadata | None, store: SolidStore) -> list[str]:
    """Solid Protocol #server-allow-methods: what this target supports now."""
    methods = ["OPTIONS", "HEAD", "GET"]
    if paths.is_container(path):
        if meta is not None:
            methods.append("POST")
        methods += ["PUT", "PATCH"]
        if meta is not None and store.is_deletable(path):
            methods.append("DELETE")
        return methods
    methods.append("PUT")
    if meta is None or rdf.is_rdf_type(meta.content_type):
        methods.append("PATCH")
    if meta is not None and store.is_deletable(path):
        methods.append("DELETE")
    return methods


def _kind(path: str, meta: Metadata | None) -> str:
    if paths.is_container(path):
        return "container" if meta is not None else "new-container"
    if meta is None:
        return "missing"
    return "rdf" if rdf.is_rdf_type(meta.content_type) else "file"


def _resource_headers(
    response: web.StreamResponse,
    store: SolidStore,
    path: str,
    meta: Metadata | None,
    *,
    allowed: Allowed | None = None,
) -> None:
    """Link, Allow, Accept-* and Vary; WAC-Allow when `allowed` is given.

    All but WAC-Allow depend only on the store's URLs, the path, the kind of resource and its
    storage, so they are built once per combination and kept in the store's `header_cache`
    (each app has its own store): this runs on every request.
    """
    root = store.storage_root(path)
    owner = store.storage_owner(root) if root == path else None
    key = (path, _kind(path, meta), root, owner)
    built = store.header_cache.get(key)
    if built is None:
        built = _build_headers(store, path, meta, root, owner)
        store.header_cache.put(key, built)
    h = response.headers
    for name, value in built:
        h[name] = value
    if allowed is not None:
        h["WAC-Allow"] = headers.wac_allow(allowed)


def _build_headers(
    store: SolidStore, path: str, meta: Metadata | None, root: str | None, owner: str | None
) -> tuple[tuple[str, str], ...]:
    links = [_TYPE_RESOURCE]
    if paths.is_container(path):
        links.append(_TYPE_CONTAINER)
    elif meta is not None:
        links.append(_TYPE_RDF_SOURCE if rdf.is_rdf_type(meta.content_type) else _TYPE_NON_RDF)
    if not paths.is_auxiliary(path):
        url = store.url(path)
        links.append(headers.link(url + paths.ACL_SUFFIX, "acl"))
        links.append(headers.link(url + paths.META_SUFFIX, "describedby"))
    if root is not None:
        links.append(
            headers.link(store.url(root) + STORAGE_DESCRIPTION, str(SOLID.storageDescription))
        )
        if root == path:
            links.append(_TYPE_STORAGE)
            if owner:
                links.append(headers.link(owner, str(SOLID.owner)))
    methods = _allowed_methods(path, meta, store)
    out: list[tuple[str, str]] = [(hdrs.LINK, ", ".join(links)), (hdrs.ALLOW, ", ".join(methods))]
    if "PATCH" in methods:
        out.append(("Accept-Patch", headers.ACCEPT_PATCH))
    if "POST" in methods:
        out.append(("Accept-Post", headers.ACCEPT_POST))
    out += [("Accept-Put", headers.ACCEPT_PUT), (hdrs.VARY, _VARY)]
    return tuple(out)


def _validators(response: web.StreamResponse, etag: str, modified: float) -> None:
    response.headers[hdrs.ETAG] = f'"{etag}"'
    response.headers[hdrs.LAST_MODIFIED] = _http_date(int(modified))


@functools.lru_cache(maxsize=4096)
def _http_date(seconds: int) -> str:
    return formatdate(seconds, usegmt=True)

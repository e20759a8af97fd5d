"""The Solid resource handler: GET/HEAD/OPTIONS/PUT/POST/PATCH/DELETE on any pod path.

Each request is parsed once into an Operation (`operation_of`), checked by the Authorizer, then
handed to the ResourceStore; the answer gets the Solid headers (Link, Allow, Accept-*, ETag,
WAC-Allow). Domain rules live in the store and the authorizer, not here.
"""

from __future__ import annotations

import asyncio
import functools
from email.utils import formatdate
from typing import Final

import pyoxigraph as ox
from aiohttp import hdrs, web

from pod import paths
from pod.acl.authorizer import Allowed
from pod.cache import LruCache
from pod.errors import (
    BackendUnavailable,
    BadRequest,
    Forbidden,
    InvalidPatch,
    MethodNotAllowed,
    NotFound,
    RangeNotSatisfiable,
    Unauthenticated,
)
from pod.http import headers
from pod.http.answers import version_of
from pod.http.authn import credentials_of, target_path
from pod.http.bodies import read_body, response_with_body
from pod.http.erase_page import check_gone
from pod.http.keys import (
    ANSWERS,
    AUTHORIZER,
    HEADERS,
    PATCH_WORKER,
    SETTINGS,
    SHAPES,
    STORE,
    TOMBSTONES,
)
from pod.ldp import rdf
from pod.ldp.conditions import NO_CONDITIONS, Conditions, Outcome, evaluate
from pod.ldp.isolation import Overrun, WorkerCrashed
from pod.ldp.methods import READ_ONLY, allowed_methods, check_deletable
from pod.ldp.operation import Operation
from pod.ldp.patch import (
    SPARQL_PARSE_SECONDS,
    SPARQL_UPDATE,
    Patch,
    parse_patch,
    parse_patch_quickly,
    patch_media_type,
)
from pod.ldp.resources import ResourceStore, WriteResult
from pod.model import ANONYMOUS, AccessMode, Credentials, Metadata
from pod.vault import grants
from pod.vault.requests import api_url
from pod.vocab import KLUIS, LDP, PIM, RDF, SOLID

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
_READS: Final = frozenset({hdrs.METH_GET, hdrs.METH_HEAD})
_SAFE: Final = _READS | {hdrs.METH_OPTIONS}
# A read with any of these is not plain: it is answered afresh, never from pod.http.answers.
_NOT_PLAIN: Final = (
    hdrs.IF_MATCH,
    hdrs.IF_NONE_MATCH,
    hdrs.IF_MODIFIED_SINCE,
    hdrs.IF_UNMODIFIED_SINCE,
    hdrs.RANGE,
)
# Response headers by (path, kind of resource, storage root, owner); see `_resource_headers`.
HEADER_ENTRIES: Final = 5_000
HEADER_BYTES: Final = 32 * 1024 * 1024
_STRING_BYTES: Final = 100  # a str object, its tuple slot and the tuple, estimated
HeaderCache = LruCache[tuple[str, str, str | None, str | None], tuple[tuple[str, str], ...]]


def header_cache() -> HeaderCache:
    return LruCache(max_entries=HEADER_ENTRIES, max_bytes=HEADER_BYTES, sizer=_headers_size)


def _headers_size(
    key: tuple[str, str, str | None, str | None], built: tuple[tuple[str, str], ...]
) -> int:
    """Strings by their length plus a fixed overhead each: `size_of` walking every pair took
    a tenth of the CPU of a PUT, which always makes a new entry."""
    strings = sum(len(name) + len(value) for name, value in built) + sum(len(k or "") for k in key)
    return strings + _STRING_BYTES * (2 * len(built) + len(key))


async def handle_resource(request: web.Request) -> web.StreamResponse:
    """Entry point for every path that is not a server endpoint."""
    raw = target_path(request)
    if raw.endswith(_STORAGE_DESCRIPTION_SUFFIX):
        return await _storage_description(request, raw[: -len(STORAGE_DESCRIPTION)])
    app = request.app  # a property of a property: asked once
    path = paths.parse_url_path(raw, app[SETTINGS].base_path)
    # An erased pod's name is held: 410, before any kept answer. Asked of the tombstones only
    # outside every pod (or in one being erased), so a request to a live pod pays a look-up.
    tombstones = app[TOMBSTONES]
    if tombstones.may_be_held(path):
        gone = await check_gone(request, path)
        if gone is not None:
            return gone
    if request.method in _READS and app[ANSWERS].enabled:
        h = request.headers
        if h.keys().isdisjoint(_NOT_PLAIN):  # case-insensitive, as the headers are
            if hdrs.AUTHORIZATION in h:
                return await _kept_or_read_as_agent(request, path, app)
            return await _kept_or_read(request, path, app)
    if grants.CONSENT in path and request.method not in _SAFE:
        store = app[STORE]
        if grants.is_managed(path, store.storages.root_of(path)):
            raise MethodNotAllowed(
                f"{store.url(path)} is kept by the server: grants are given, narrowed and "
                "withdrawn through the consent pages or the grant API, and their history is "
                "never changed",
                allowed=READ_ONLY,
            )
    operation = operation_of(request, path)
    handler = _HANDLERS.get(operation.method)
    if handler is None:
        store = request.app[STORE]
        raise MethodNotAllowed(
            f"{operation.method} is not supported",
            allowed=allowed_methods(operation.target, None, store.storages),
        )
    return await handler(request, operation)


def operation_of(request: web.Request, path: str) -> Operation:
    """The request's operation, from its method, target and headers (the body comes later).

    A PATCH's Content-Type is checked here, whoever asks: 400 without one, 415 for a type that
    is not a patch format."""
    method = request.method
    h = request.headers
    if method == hdrs.METH_GET or method == hdrs.METH_HEAD:
        byte_range = None
        if hdrs.RANGE in h:
            try:
                byte_range = request.http_range
            except ValueError:
                byte_range = None  # RFC 9110 §14.2: a server may ignore a Range it cannot parse
        return Operation(
            method,
            path,
            h.get(hdrs.ACCEPT),
            _conditions(request),
            byte_range=byte_range,
            if_range=h.get(hdrs.IF_RANGE),
        )
    content_type = h.get(hdrs.CONTENT_TYPE)
    if method == hdrs.METH_PATCH:
        if content_type is None:
            raise BadRequest("a PATCH body needs a Content-Type header")
        patch_media_type(content_type)
    if method == hdrs.METH_POST:
        return Operation(
            method,
            path,
            conditions=_conditions(request),
            content_type=content_type,
            slug=h.get("Slug"),
            as_container=bool(headers.link_types(h.get(hdrs.LINK)) & _CONTAINER_TYPES),
        )
    return Operation(method, path, conditions=_conditions(request), content_type=content_type)


# --- reading ----------------------------------------------------------------------------


async def _get(request: web.Request, op: Operation) -> web.StreamResponse:
    response, _, _ = await _read(request, op, await credentials_of(request))
    return response


async def _kept_or_read(
    request: web.Request, path: str, app: web.Application
) -> web.StreamResponse:
    """A plain read (anonymous, no conditions, no range): the kept answer while the resource
    is at the version it showed (pod.http.answers), else read, and kept."""
    answers = app[ANSWERS]
    variant = (request.headers.get(hdrs.ACCEPT), request.headers.get(hdrs.ORIGIN))
    epoch = answers.epoch
    current = await app[STORE].head(path)
    if current is not None:
        kept = answers.get(path, variant, version_of(current))
        if kept is not None:
            return kept.response()
    op = operation_of(request, path)
    response, meta, _ = await _read(request, op, await credentials_of(request))
    if response.status == 200:
        answers.keep(path, variant, epoch, meta, response)
    return response


async def _kept_or_read_as_agent(
    request: web.Request, path: str, app: web.Application
) -> web.StreamResponse:
    """A plain read with credentials: authenticated afresh, every check of the proof and the
    token included; then the kept answer for the modes the agent and the public hold on the
    resource, decided now, while the resource is at the version it showed.

    An answer depends on who asks only through those modes (WAC-Allow), so it is kept per
    (Accept, Origin, modes) and served to whoever holds the same: byte for byte what a fresh
    read would give them. The modes are asked of the authorizer on every request, as a fresh
    read would ask them (its readers' caches follow the change feed, and a decision resting on
    a remote group expires with the group), so a grant withdrawn or expired, a revoked token
    and an agent without Read all go the ordinary way, where they are refused as before.
    Auxiliary resources need other modes than Read (`pod.acl.modes`) and are read afresh."""
    credentials = await credentials_of(request)
    if paths.is_auxiliary(path):
        response, _, _ = await _read(request, operation_of(request, path), credentials)
        return response
    answers = app[ANSWERS]
    h = request.headers
    accept, origin = h.get(hdrs.ACCEPT), h.get(hdrs.ORIGIN)
    epoch = answers.epoch
    current = await app[STORE].head(path)
    if current is not None:
        authorizer = app[AUTHORIZER]
        user = await authorizer.granted(credentials, path)
        if AccessMode.READ in user:
            public = await authorizer.granted(ANONYMOUS, path)
            kept = answers.get(path, (accept, origin, user, public), version_of(current))
            if kept is not None:
                return kept.response()
    response, meta, allowed = await _read(request, operation_of(request, path), credentials)
    if response.status == 200:
        answers.keep(path, (accept, origin, allowed.user, allowed.public), epoch, meta, response)
    return response


async def _read(
    request: web.Request, op: Operation, credentials: Credentials
) -> tuple[web.Response, Metadata, Allowed]:
    """The answer to a GET or HEAD, the metadata of the version it shows, and the modes its
    WAC-Allow reports."""
    app = request.app
    store = app[STORE]
    authorizer = app[AUTHORIZER]
    checked = await authorizer.authorize(credentials, op)
    path = op.target
    byte_range = None if op.byte_range is None else await _byte_range(op, store)
    try:
        rep = await store.get(path, accept=op.accept, byte_range=byte_range)
    except NotFound as exc:
        # Only readers get this far, so the methods tell nothing OPTIONS would not.
        raise NotFound(exc.message, allowed=allowed_methods(path, None, store.storages)) from exc
    allowed = await authorizer.allowed(credentials, path, user=checked.granted)
    outcome = evaluate(
        op.conditions, etag=rep.etag, modified=rep.metadata.modified, safe_method=True
    )
    if outcome is Outcome.NOT_MODIFIED:
        response = web.Response(status=304)
        _resource_headers(app, response, path, rep.metadata, allowed=allowed)
        _validators(response, rep.etag, rep.metadata.modified)
        return response, rep.metadata, allowed
    status = 206 if rep.byte_range is not None else 200
    response = response_with_body(request, status, rep.data)
    response.headers[hdrs.CONTENT_TYPE] = rep.content_type
    if rep.byte_range is not None:
        start, end = rep.byte_range
        response.headers[hdrs.CONTENT_RANGE] = f"bytes {start}-{end - 1}/{rep.metadata.size}"
    if not rep.is_rdf:
        response.headers[hdrs.ACCEPT_RANGES] = "bytes"
    _resource_headers(app, response, path, rep.metadata, allowed=allowed)
    if paths.is_container(path):
        await _constraint_link(app, response, path)
    _validators(response, rep.etag, rep.metadata.modified)
    return response, rep.metadata, allowed


async def _byte_range(op: Operation, store: ResourceStore) -> slice | None:
    """The absolute byte range requested of a non-RDF resource, or None for the whole body."""
    requested = op.byte_range
    if requested is None or paths.is_container(op.target):
        return None
    start, stop = requested.start, requested.stop
    if start is None and stop is None:
        return None
    meta = await store.head(op.target)
    if meta is None or rdf.is_rdf_type(meta.content_type):
        return None
    if op.if_range is not None and op.if_range.strip().strip('"') != meta.version:
        return None
    size = meta.size
    if start is not None and start < 0:  # suffix range: the last -start bytes
        start, stop = max(0, size + start), size
    start = start or 0
    stop = size if stop is None else min(stop, size)
    if start >= size or start >= stop:
        raise RangeNotSatisfiable(f"range starts beyond the {size}-byte body", size=size)
    return slice(start, stop)


async def _options(request: web.Request, op: Operation) -> web.StreamResponse:
    """What the target supports. Only someone who may read it learns whether it exists and
    what kind it is; to anyone else it answers as a resource that could be created would
    (Solid Protocol #server-unauthenticated: missing and forbidden look alike)."""
    store = request.app[STORE]
    try:
        await request.app[AUTHORIZER].authorize(
            await credentials_of(request), Operation("GET", op.target)
        )
    except (Unauthenticated, Forbidden):
        meta = None
    else:
        meta = await store.head(op.target)
    response = web.Response(status=204)
    _resource_headers(request.app, response, op.target, meta)
    if meta is not None and paths.is_container(op.target):
        await _constraint_link(request.app, response, op.target)
    return response


async def _storage_description(request: web.Request, root_raw: str) -> web.StreamResponse:
    """Solid Protocol #server-storage-description: Turtle describing the storage."""
    settings = request.app[SETTINGS]
    store = request.app[STORE]
    root = paths.parse_url_path(root_raw, settings.base_path)
    if not store.storages.is_root(root):
        raise BadRequest("no storage here: .well-known is a reserved name")
    if request.method not in (hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS):
        raise MethodNotAllowed("the storage description is read-only", allowed=READ_ONLY)
    me = ox.NamedNode(store.url(root))
    triples = [ox.Triple(me, ox.NamedNode(RDF.type), ox.NamedNode(PIM.Storage))]
    owner = store.storages.owner(root)
    if owner:
        triples.append(ox.Triple(me, ox.NamedNode(SOLID.owner), ox.NamedNode(owner)))
        requests = api_url(store.base_url, root, "requests")  # where to ask for access
        triples.append(ox.Triple(me, ox.NamedNode(KLUIS.accessRequests), ox.NamedNode(requests)))
    response = web.Response(body=rdf.serialize(triples, rdf.TURTLE), content_type=None)
    response.headers[hdrs.CONTENT_TYPE] = rdf.TURTLE
    response.headers[hdrs.ALLOW] = ", ".join(READ_ONLY)
    response.headers[hdrs.VARY] = _VARY
    return response


# --- writing ----------------------------------------------------------------------------


async def _put(request: web.Request, op: Operation) -> web.StreamResponse:
    store = request.app[STORE]
    await request.app[AUTHORIZER].authorize(await credentials_of(request), op)
    op = op.with_body(await read_body(request))
    result = await store.put(
        op.target, data=op.body, content_type=_content_type(op), conditions=op.conditions
    )
    return _written(request, result)


def _written(request: web.Request, result: WriteResult) -> web.Response:
    """201 with Location for a create, 204 for a replace; the new ETag and the resource's
    Link headers either way (clients such as Inrupt's read the ACL link from a write's answer)."""
    response = web.Response(status=201 if result.created else 204)
    if result.created:
        response.headers[hdrs.LOCATION] = request.app[STORE].url(result.path)
    _resource_headers(request.app, response, result.path, result.metadata, keep=False)
    response.headers[hdrs.ETAG] = f'"{result.etag}"'
    return response


async def _post(request: web.Request, op: Operation) -> web.StreamResponse:
    store = request.app[STORE]
    await request.app[AUTHORIZER].authorize(await credentials_of(request), op)
    op = op.with_body(await read_body(request))
    result = await store.post(
        op.target,
        data=op.body,
        content_type=_content_type(op),
        slug=op.slug,
        as_container=op.as_container,
    )
    return _written(request, result)


async def _patch(request: web.Request, op: Operation) -> web.StreamResponse:
    """One look at the target on the way in (by the authorizer), one read and one write in the
    store; the rules (what may be patched, conditions) are the store's."""
    store = request.app[STORE]
    settings = request.app[SETTINGS]
    authorizer = request.app[AUTHORIZER]
    credentials = await credentials_of(request)
    # What every patch needs, checked before the body is read: whoever may not patch here gets
    # 401/403 without making the server read, parse or match anything.
    checked = await authorizer.authorize(credentials, op)
    data = await read_body(request, limit=min(settings.max_patch_bytes, settings.max_body_bytes))
    assert op.content_type is not None  # operation_of requires it
    patch = await _parse(request, data, op.content_type, store.url(op.target))
    # Checked again, in full, once the body has arrived (an ACL may have changed meanwhile).
    op = op.with_patch(patch)
    await authorizer.authorize(credentials, op, known=checked)
    result = await store.patch(op.target, patch, conditions=op.conditions, seen=checked.target)
    return _written(request, result)


async def _parse(request: web.Request, data: bytes, content_type: str, base: str) -> Patch:
    """Parse a patch off the event loop: N3 in a thread (rdflib's N3 parser is linear, a few
    microseconds per byte at worst), SPARQL Update in the worker process, within its limit;
    but a small N3 Patch of ground triples on the loop, where pyoxigraph reads it at once."""
    quick = parse_patch_quickly(data, content_type, base=base)
    if quick is not None:
        return quick
    if patch_media_type(content_type) != SPARQL_UPDATE:
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


async def _delete(request: web.Request, op: Operation) -> web.StreamResponse:
    store = request.app[STORE]
    check_deletable(op.target, store.storages)  # 405 whoever asks: a property of the target
    await request.app[AUTHORIZER].authorize(await credentials_of(request), op)
    await store.delete(op.target, conditions=op.conditions)
    return web.Response(status=204)


_HANDLERS: Final = {
    hdrs.METH_GET: _get,
    hdrs.METH_HEAD: _get,
    hdrs.METH_OPTIONS: _options,
    hdrs.METH_PUT: _put,
    hdrs.METH_POST: _post,
    hdrs.METH_PATCH: _patch,
    hdrs.METH_DELETE: _delete,
}


# --- request parsing ----------------------------------------------------------------------


def _content_type(op: Operation) -> str | None:
    if op.content_type is None and op.body:
        # Solid Protocol #server-content-type-missing
        raise BadRequest("a request with a body needs a Content-Type header")
    return op.content_type


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


def _kind(path: str, meta: Metadata | None) -> str:
    if paths.is_container(path):
        return "container" if meta is not None else "new-container"
    if meta is None:
        return "missing"
    return "rdf" if rdf.is_rdf_type(meta.content_type) else "file"


def _resource_headers(
    app: web.Application,
    response: web.StreamResponse,
    path: str,
    meta: Metadata | None,
    *,
    allowed: Allowed | None = None,
    keep: bool = True,
) -> None:
    """Link, Allow, Accept-* and Vary; WAC-Allow when `allowed` is given.

    All but WAC-Allow depend only on the store's URLs, the path, the kind of resource and its
    storage, so they are built once per combination and kept in the app's header cache (per
    app, so two apps in one process never answer with each other's): this runs on every
    request. A write's answer uses them but does not `keep` them: most new documents are not
    read soon, and thousands of new paths would fill the cache with their headers.
    """
    store = app[STORE]
    storages = store.storages
    root = storages.root_of(path)
    owner = storages.owner(root) if root == path else None
    key = (path, _kind(path, meta), root, owner)
    cache = app[HEADERS]
    built = cache.get(key)
    if built is None:
        built = _build_headers(store, path, meta, root, owner)
        if keep:
            cache.put(key, built)
    h = response.headers
    for name, value in built:
        h[name] = value
    if allowed is not None:
        h["WAC-Allow"] = headers.wac_allow(allowed)


def _build_headers(
    store: ResourceStore, path: str, meta: Metadata | None, root: str | None, owner: str | None
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
    if grants.is_managed(path, root):  # kept by the server: read only (handle_resource)
        methods = list(READ_ONLY)
    else:
        methods = allowed_methods(path, meta, store.storages)
    out: list[tuple[str, str]] = [(hdrs.LINK, ", ".join(links)), (hdrs.ALLOW, ", ".join(methods))]
    if "PATCH" in methods:
        out.append(("Accept-Patch", headers.ACCEPT_PATCH))
    if "POST" in methods:
        out.append(("Accept-Post", headers.ACCEPT_POST))
    if "PUT" in methods:
        out.append(("Accept-Put", headers.ACCEPT_PUT))
    out.append((hdrs.VARY, _VARY))
    return tuple(out)


async def _constraint_link(app: web.Application, response: web.StreamResponse, path: str) -> None:
    """Add `Link: <shapes>; rel="ldp:constrainedBy"` for a container that declares a shape, so
    that a client learns the constraints before it writes (LDP 1.0 §4.2.1.6,
    https://www.w3.org/TR/ldp/#ldpr-gen-pubclireqs). Kept apart from the header cache: the
    declaration lives in the container's description, which its owner may change."""
    shape = await app[SHAPES].declared(path)
    if shape is not None:
        response.headers.add(hdrs.LINK, headers.link(shape, str(LDP.constrainedBy)))


def _validators(response: web.StreamResponse, etag: str, modified: float) -> None:
    response.headers[hdrs.ETAG] = f'"{etag}"'
    response.headers[hdrs.LAST_MODIFIED] = _http_date(int(modified))


@functools.lru_cache(maxsize=4096)
def _http_date(seconds: int) -> str:
    return formatdate(seconds, usegmt=True)

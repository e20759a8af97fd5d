"""Whole answers to plain reads, kept while what they were built from holds.

Every part of the answer to a GET or HEAD without conditions or a range depends only on the
representation (the resource's version and the negotiated media type), the resource's headers
(its path, kind and storage), and the modes the agent and the public hold there (WAC-Allow). The
request decides the rest through `Accept` and `Origin` (Vary: Accept, Authorization, Origin), so
the answer is kept per (path, Accept, Origin) and served again without converting, authorizing
or building headers, which is most of the cost of a read.

Each answer is checked on every request against the resource's current version (one stat, so a
file replaced by hand is noticed as the store's own caches notice it), and dropped when the
change feed announces a change to the resource, its description, or a child (a container's
listing shows its children). A change of storage moves every Link header below it, so it drops
every answer.

Anonymous answers: what the public may do changes only through ACL documents, whose changes the
feed announces too; any of them drops every answer. That holds only when every permission reader
decides from announced writes alone (`Authorizer.follows_feed`); otherwise nothing is kept.

Answers to agents (pod.http.ldp `_kept_or_read_as_agent`) are kept per (Accept, Origin, the
agent's modes, the public's modes) too, and served only after the request was authenticated
afresh and its modes decided afresh by the authorizer matched the answer's: nothing about who
may read is taken from here.
"""

from __future__ import annotations

from typing import Final, NamedTuple, final

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from pod import paths
from pod.cache import LruCache
from pod.feed import ChangeFeed, Event, ResourceChanged
from pod.model import AccessMode, Metadata

# Bounds: a client picks the path, Accept and Origin, so the variants of one path are
# capped, and the whole by entries and bytes. Answers are small documents; a body over
# MAX_BODY_BYTES is served the ordinary way.
ANSWER_PATHS: Final = 10_000
ANSWER_BYTES: Final = 32 * 1024 * 1024
MAX_BODY_BYTES: Final = 256 * 1024
VARIANTS_PER_PATH: Final = 8
_ENTRY_OVERHEAD: Final = 1024  # headers and bookkeeping, estimated

# (Accept, Origin) as sent; for an agent's answer, then the modes the agent and the public hold.
Variant = tuple[str | None, str | None] | tuple[str | None, str | None, AccessMode, AccessMode]
Version = tuple[str, float, int]  # the resource's version, modification time and size


def version_of(meta: Metadata) -> Version:
    return (meta.version, meta.modified, meta.size)


@final
class Answer(NamedTuple):
    version: Version
    status: int
    body: bytes
    headers: CIMultiDictProxy[str]

    def response(self) -> web.Response:
        return web.Response(status=self.status, body=self.body, headers=CIMultiDict(self.headers))


def _size(path: str, variants: dict[Variant, Answer]) -> int:
    return len(path) + sum(len(a.body) + _ENTRY_OVERHEAD for a in variants.values())


@final
class Answers:
    def __init__(self, feed: ChangeFeed, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._kept: LruCache[str, dict[Variant, Answer]] = LruCache(
            max_entries=ANSWER_PATHS, max_bytes=ANSWER_BYTES, sizer=_size
        )
        self._epoch = 0  # counts announced changes, so an answer built across one is not kept
        feed.subscribe(self._follow)

    @property
    def epoch(self) -> int:
        return self._epoch

    def get(self, path: str, variant: Variant, version: Version) -> Answer | None:
        variants = self._kept.get(path)
        if variants is None:
            return None
        answer = variants.get(variant)
        if answer is None or answer.version != version:
            return None
        return answer

    def keep(
        self, path: str, variant: Variant, epoch: int, meta: Metadata, response: web.Response
    ) -> None:
        """Keep `response` for `variant` of `path`, unless a change was announced since `epoch`
        (when the answer's building began) or it is too large."""
        body = response.body
        if epoch != self._epoch or not isinstance(body, bytes) or len(body) > MAX_BODY_BYTES:
            return
        answer = Answer(
            version_of(meta), response.status, body, CIMultiDictProxy(CIMultiDict(response.headers))
        )
        variants = dict(self._kept.get(path) or {})
        variants.pop(variant, None)
        variants[variant] = answer
        while len(variants) > VARIANTS_PER_PATH:
            del variants[next(iter(variants))]  # the oldest
        self._kept.put(path, variants)

    def _follow(self, event: Event) -> None:
        if not isinstance(event, ResourceChanged):
            return
        self._epoch += 1
        path = event.path
        meta = event.metadata
        if paths.is_acl(path) or (meta is not None and meta.is_storage):
            self._kept.clear()
            return
        self._kept.pop(path)
        if paths.is_auxiliary(path):
            self._kept.pop(path[: path.rindex(".")])  # the description's subject
        container = paths.parent(path)
        if container is not None:
            self._kept.pop(container)

    def __len__(self) -> int:
        return len(self._kept)

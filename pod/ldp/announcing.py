"""Store layer, the top of the stack: announce every change a write made on the change feed,
with who made it (`pod.feed.current_actor`), once the write is durable.

A write that fails after creating containers above its target announces nothing; the caches of
those containers' parents notice them anyway, by the version and time their listing is keyed by.
"""

from __future__ import annotations

import dataclasses
from typing import final

from pod.feed import ChangeFeed, current_actor
from pod.ldp.conditions import NO_CONDITIONS, Conditions
from pod.ldp.patch import Patch
from pod.ldp.resources import Passthrough, ResourceStore, WriteResult
from pod.model import Metadata


@final
class AnnouncingStore(Passthrough):
    def __init__(self, inner: ResourceStore, feed: ChangeFeed) -> None:
        super().__init__(inner)
        self.feed = feed

    def _announce(self, result: WriteResult) -> WriteResult:
        actor = current_actor()
        for change in result.changes:
            self.feed.publish(dataclasses.replace(change, actor=actor))
        return result

    async def put(
        self,
        path: str,
        *,
        data: bytes,
        content_type: str | None,
        conditions: Conditions = NO_CONDITIONS,
        relative: bool = False,
    ) -> WriteResult:
        return self._announce(
            await self.inner.put(
                path, data=data, content_type=content_type, conditions=conditions, relative=relative
            )
        )

    async def post(
        self,
        container: str,
        *,
        data: bytes,
        content_type: str | None,
        slug: str | None = None,
        as_container: bool = False,
    ) -> WriteResult:
        return self._announce(
            await self.inner.post(
                container,
                data=data,
                content_type=content_type,
                slug=slug,
                as_container=as_container,
            )
        )

    async def patch(
        self,
        path: str,
        patch: Patch,
        *,
        conditions: Conditions = NO_CONDITIONS,
        seen: Metadata | None = None,
    ) -> WriteResult:
        return self._announce(await self.inner.patch(path, patch, conditions=conditions, seen=seen))

    async def delete(self, path: str, *, conditions: Conditions = NO_CONDITIONS) -> WriteResult:
        return self._announce(await self.inner.delete(path, conditions=conditions))

    async def create_storage(self, path: str, *, owner: str | None = None) -> WriteResult:
        return self._announce(await self.inner.create_storage(path, owner=owner))

    async def remove_storage(self, path: str) -> WriteResult:
        return self._announce(await self.inner.remove_storage(path))

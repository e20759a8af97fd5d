"""RDF documents elsewhere on the web (WebID profiles, group documents), read through the
guarded Fetcher. Imports fetch, ldp.rdf."""

from __future__ import annotations

from typing import Final

from pod.errors import FetchError, InvalidRdf, UnsupportedMediaType
from pod.fetch import Fetcher
from pod.ldp import rdf

ACCEPT: Final = "text/turtle, application/ld+json;q=0.9, application/rdf+xml;q=0.5"


async def fetch_graph(fetcher: Fetcher, url: str, *, max_bytes: int | None = None) -> rdf.Graph:
    """The RDF document at `url`. Raises FetchError for any failure, unreadable RDF included."""
    fetched = await fetcher.get(url, accept=ACCEPT, max_bytes=max_bytes)
    if fetched.status != 200:
        raise FetchError(f"{url} answered {fetched.status}")
    try:
        return rdf.parse(fetched.body, fetched.content_type, base=fetched.url)
    except (InvalidRdf, UnsupportedMediaType) as exc:
        raise FetchError(f"{url} is not readable RDF: {exc.message}") from exc

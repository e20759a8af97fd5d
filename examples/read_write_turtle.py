"""Create, read, patch and list linked data on a running Kluis server over plain HTTP.

Run: python examples/read_write_turtle.py CONTAINER_URL
The container must let anonymous clients write (see examples/dpop_client.py for signing in).
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp

PROFILE = """@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<#me> a foaf:Person ; foaf:name "Alice" .
"""
ADD_NICK = """@prefix solid: <http://www.w3.org/ns/solid/terms#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
_:patch a solid:InsertDeletePatch ;
  solid:where { ?me foaf:name "Alice" } ;
  solid:inserts { ?me foaf:nick "al" } .
"""


async def main(base: str) -> str:
    doc = base.rstrip("/") + "/examples/profile"
    async with aiohttp.ClientSession() as session:
        async with session.put(doc, data=PROFILE, headers={"Content-Type": "text/turtle"}) as r:
            r.raise_for_status()
        async with session.patch(doc, data=ADD_NICK, headers={"Content-Type": "text/n3"}) as r:
            r.raise_for_status()
        async with session.get(doc, headers={"Accept": "application/ld+json"}) as r:
            r.raise_for_status()
            as_jsonld = await r.text()
        async with session.get(base.rstrip("/") + "/examples/") as r:
            r.raise_for_status()
            listing = await r.text()
    return as_jsonld + "\n\n" + listing


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))

"""Create, read, patch and list linked data in your pod over HTTP, signed in as its owner.

Run against a fresh `make serve`, with the pod and the client credentials the README's first
session makes (`kluis account create --pod alice`, `kluis client create`):

    .venv/bin/python examples/read_write_turtle.py http://localhost:3000/alice/ \
        "$CLIENT_ID" "$CLIENT_SECRET"

It writes a Turtle document at <pod>examples/profile, adds a nickname with an N3 Patch, prints
the document as JSON-LD and lists the container (Turtle). The pod stays private: signing in
(DPoP-bound client credentials) is examples/dpop_client.py's `SignedIn`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

try:
    import aiohttp
except ImportError:
    sys.exit("run this with the Python in .venv (`make serve` makes it): .venv/bin/python ...")

from dpop_client import Refused, SignedIn, positional

PROFILE = """@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<#me> a foaf:Person ; foaf:name "Alice" .
"""
ADD_NICK = """@prefix solid: <http://www.w3.org/ns/solid/terms#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
_:patch a solid:InsertDeletePatch ;
  solid:where { ?me foaf:name "Alice" } ;
  solid:inserts { ?me foaf:nick "al" } .
"""


async def main(pod: str, client_id: str, client_secret: str) -> str:
    pod = pod.rstrip("/") + "/"
    server = pod.rsplit("/", 2)[0] + "/"  # a pod http://host/alice/ lives on http://host/
    doc = pod + "examples/profile"
    async with aiohttp.ClientSession() as session:
        me = await SignedIn.sign_in(session, server, client_id, client_secret)
        await me.request("PUT", doc, data=PROFILE, headers={"Content-Type": "text/turtle"})
        await me.request("PATCH", doc, data=ADD_NICK, headers={"Content-Type": "text/n3"})
        as_jsonld = await me.request("GET", doc, headers={"Accept": "application/ld+json"})
        listing = await me.request("GET", pod + "examples/", headers={"Accept": "text/turtle"})
    return as_jsonld + "\n\n" + listing


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("pod", help="your pod's URL, e.g. http://localhost:3000/alice/")
    parser.add_argument("client_id", help="from `kluis client create` (clientId)")
    parser.add_argument("client_secret", help="from `kluis client create` (clientSecret)")
    args = parser.parse_args(positional(sys.argv[1:]))
    try:
        print(asyncio.run(main(args.pod, args.client_id, args.client_secret)))
    except Refused as exc:
        sys.exit(f"read_write_turtle.py: {exc}")

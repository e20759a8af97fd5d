"""Export and import of a pod (issue 15 §3), over real HTTP, once per storage backend.

The pod `ann` belongs to an account made through the account API; alice (the test issuer's
agent) holds Control over it, so she fills and empties it over HTTP. A grant to bob is given
through the server's grant book, as the consent pages give one."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pyoxigraph as ox
import pytest
from aiohttp.web import Application

from pod import paths
from pod.app import create_app
from pod.config import Settings
from pod.http.keys import ACCOUNTS, DISCLOSURES, GRANTS, PROVIDER, QUOTAS, STORE
from pod.ldp.resources import layer
from pod.ldp.rules import SolidRules
from pod.model import AccessMode
from pod.rights import archive
from pod.rights.exporting import CONTAINER, walk
from pod.storage.fs import FileBackend
from pod.storage.memory import MemoryBackend
from pod.vault.disclosures import key_of
from pod.vault.grants import Terms
from tests.conftest import ClientFactory, url
from tests.support import CLIENT_ID, Agent, PodClient

PASSWORD = "a long enough password"
RECOMMENDATIONS = "https://w3id.org/dpv#ProvidePersonalisedRecommendations"
TURTLE = {"Content-Type": "text/turtle"}
NOTE = "/ann/docs/note.ttl"
PHOTO = "/ann/photos/p%C3%A9t.png"  # a name that needs percent-encoding
PHOTO_PATH = "/ann/photos/pét.png"


@pytest.fixture
def settings(data_dir: Any) -> Settings:
    return Settings(
        base_url="http://pod.example/",
        data_dir=data_dir,
        max_body_bytes=1_000_000,
        max_rdf_bytes=200_000,
        access_log=False,
        fetch_private_networks=True,
        password_cost=10,
    )


@dataclass
class Pod:
    """The account's API token, alice's client, and the files she wrote (path -> bytes, type)."""

    app: Application
    client: PodClient
    token: str
    files: dict[str, tuple[bytes, str]]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def _account(client: PodClient, email: str, pod: str) -> str:
    r = await client.post(
        "/.account/api/accounts",
        json={"email": email, "password": PASSWORD, "pod": pod},
        as_agent=None,
    )
    assert r.status == 201, await r.text()
    r = await client.post(
        "/.account/api/login", json={"email": email, "password": PASSWORD}, as_agent=None
    )
    assert r.status == 200, await r.text()
    return str((await r.json())["token"])


@pytest.fixture
async def pod(aiohttp_client: ClientFactory, app: Application, alice: Agent, bob: Agent) -> Pod:
    client = PodClient(await aiohttp_client(app), alice)
    token = await _account(client, "ann@example.org", "ann")
    store = app[STORE]
    owner = store.storages.owner("/ann/")
    assert owner == url("/ann/profile/card#me")
    # Alice may do all the owner may, in every ACL of the pod (written by the server: the
    # owner's own tokens come from this server's identity provider, which the suite does not
    # drive).
    backend = layer(store, SolidRules).backend
    acls = ["/ann/.acl"]
    async for _, children in walk(backend, "/ann/"):
        acls += [c.path for c in children if paths.is_acl(c.path) and c.path != "/ann/.acl"]
    agent = ox.NamedNode("http://www.w3.org/ns/auth/acl#agent")
    for acl in acls:
        _, data = await backend.read(acl)
        triples = list(ox.parse(data, ox.RdfFormat.TURTLE, base_iri=url(acl)))
        triples += [
            ox.Triple(t.subject, agent, ox.NamedNode(alice.webid))
            for t in triples
            if t.predicate == agent and t.object == ox.NamedNode(owner)
        ]
        body = ox.serialize(triples, format=ox.RdfFormat.TURTLE)
        assert body is not None
        await store.put(acl, data=body, content_type="text/turtle")
    files: dict[str, tuple[bytes, str]] = {
        NOTE: (
            b"@prefix ex: <http://ex.example/#>.\n<#n> ex:says 'hello' . # as sent\n",
            "text/turtle",
        ),
        PHOTO_PATH: (os.urandom(3000), "image/png"),
        "/ann/data.bin": (os.urandom(70_000), "application/octet-stream"),
        "/ann/docs/plain": (b"just text, no extension", "text/plain"),
        "/ann/docs/note.ttl.meta": (
            b"<note.ttl> <http://ex.example/#on> 'notes' .\n",
            "text/turtle",
        ),
    }
    for path, (data, media) in files.items():
        r = await client.put(paths.to_url_path(path), data=data, headers={"Content-Type": media})
        assert r.status == 201, await r.text()
    r = await client.put("/ann/empty/", data=b"", headers=TURTLE)
    assert r.status == 201, await r.text()
    await app[GRANTS].book.give(
        root="/ann/",
        recipient=bob.webid,
        client=CLIENT_ID,
        terms=Terms(
            resources=(NOTE,),
            inherit=False,
            modes=AccessMode.READ,
            purposes=frozenset({RECOMMENDATIONS}),
            expires=time.time() + 600,
        ),
        now=time.time(),
    )
    r = await client.get(NOTE, as_agent=bob)
    assert r.status == 200, await r.text()  # the grant allows it (and the access log has it)
    return Pod(app, client, token, files)


async def _export(pod: Pod) -> bytes:
    r = await pod.client.get("/.account/api/pods/ann/export", headers=pod.auth, as_agent=None)
    assert r.status == 200, await r.text()
    assert r.headers["Content-Type"] == "application/gzip"
    assert r.headers["Content-Disposition"].startswith('attachment; filename="ann-')
    assert int(r.headers["Kluis-Export-Bytes"]) > 73_000
    return await r.read()


def _members(data: bytes) -> dict[str, tuple[bytes, str]]:
    out: dict[str, tuple[bytes, str]] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for info in tar:
            f = tar.extractfile(info)
            assert f is not None
            out[info.name] = (f.read(), info.pax_headers.get("KLUIS.type", ""))
    return out


async def _import(pod: Pod, name: str, data: bytes) -> Any:
    return await pod.client.post(
        f"/.account/api/pods/{name}/import",
        data=data,
        headers={**pod.auth, "Content-Type": "application/gzip"},
        as_agent=None,
    )


async def _empty(pod: Pod, members: Iterable[str]) -> None:
    """Delete everything but the root .acl over HTTP, deepest first; `consent/`, which the
    server keeps read-only over HTTP, through the store as an erasure would."""
    resources = []
    for name in members:
        if not name.startswith("pod/"):
            continue
        relative = name[4:]
        if relative.endswith(CONTAINER):
            relative = relative[: -len(CONTAINER)]
        if relative:
            resources.append("/ann/" + relative)
    store = pod.app[STORE]
    for path in sorted(resources, key=lambda p: (-p.count("/"), p.endswith("/"), p)):
        if path == "/ann/.acl" or path.endswith((".acl", ".meta")):
            continue  # an .acl or .meta goes with its resource
        if path.startswith("/ann/consent/"):
            await store.delete(path)
            continue
        r = await pod.client.delete(paths.to_url_path(path))
        assert r.status in (204, 404), (path, r.status, await r.text())
    children = await layer(store, SolidRules).backend.children("/ann/")
    assert [c.path for c in children] == ["/ann/.acl"]


async def _bytes_of(app: Application, path: str) -> tuple[bytes, str]:
    meta, data = await layer(app[STORE], SolidRules).backend.read(path)
    return data, meta.content_type


async def test_export_empty_import_gives_the_same_files_and_the_grant_holds(
    pod: Pod, bob: Agent
) -> None:
    exported = await _export(pod)
    members = _members(exported)
    names = list(members)
    assert names[:2] == ["kluis-export.json", "account.json"]
    assert names[-2:] == ["pod.trig", "manifest.json"]
    assert names.index("pod/" + CONTAINER) < names.index("pod/docs/" + CONTAINER)
    assert names.index("pod/docs/" + CONTAINER) < names.index("pod/docs/note.ttl")
    assert names.index("pod/docs/note.ttl") < names.index("pod/docs/note.ttl.meta")
    assert any(n.startswith("pod/consent/grants/") for n in names)
    assert [n for n in names if n.startswith("log/")], "the access log is in the copy"
    for path, (data, media) in pod.files.items():
        assert members["pod/" + path[len("/ann/") :]] == (data, media)
    info = json.loads(members["kluis-export.json"][0])
    assert info["root"] == url("/ann/")
    assert info["files"] >= len(pod.files)

    await _empty(pod, names)
    assert (await pod.client.get(NOTE, as_agent=bob)).status in (403, 404)
    r = await _import(pod, "ann", exported)
    assert r.status == 200, await r.text()
    done = await r.json()
    assert done["created"] is False
    assert done["renamed"] is False
    assert done["kept"] == [url("/ann/.acl")]
    for name, (data, media) in members.items():
        if not name.startswith("pod/") or name.endswith(CONTAINER):
            continue
        assert await _bytes_of(pod.app, "/ann/" + name[4:]) == (data, media), name
    r = await pod.client.get(PHOTO)
    assert r.status == 200
    assert r.headers["Content-Type"] == "image/png"
    assert await r.read() == pod.files[PHOTO_PATH][0]
    r = await pod.client.get(NOTE, as_agent=bob)
    assert r.status == 200, await r.text()  # the grant came back, and holds again
    assert "hello" in await r.text()
    assert (await pod.client.get("/ann/empty/")).status == 200

    r = await _import(pod, "ann", exported)
    assert r.status == 409, await r.text()
    assert "not empty" in (await r.json())["detail"]


async def test_the_archive_verifies_holds_no_secret_and_its_trig_has_a_graph_per_document(
    pod: Pod,
) -> None:
    r = await pod.client.post(
        "/.account/api/credentials",
        json={"webId": url("/ann/profile/card#me"), "name": "script"},
        headers=pod.auth,
        as_agent=None,
    )
    assert r.status == 201
    secret = (await r.json())["clientSecret"]
    cookies = await _page_session(pod)
    exported = await _export(pod)
    raw = gzip.decompress(exported)
    records = await pod.app[ACCOUNTS].kv.items("accounts")
    hashes = [str(record["password_hash"]) for _, record in records]
    assert hashes
    key = (await pod.app[PROVIDER].keys.current()).as_dict(private=True)
    for forbidden in [
        *hashes,
        "scrypt$",
        pod.token,
        hashlib.sha256(pod.token.encode()).hexdigest(),
        secret,
        hashlib.sha256(secret.encode()).hexdigest(),
        *cookies,
        str(key["d"]),
    ]:
        assert forbidden.encode() not in raw, forbidden
    assert b"ann@example.org" in raw  # the account's own e-mail address is in account.json
    account = json.loads(_members(exported)["account.json"][0])
    assert sorted(account) == [
        "accessLogDays", "connectedApps", "created", "credentials", "email", "pods", "quota",
        "webIds",
    ]  # fmt: skip
    assert account["credentials"][0].keys() == {"clientId", "name", "webId", "created"}
    scanned = archive.scan(io.BytesIO(exported))
    assert scanned.manifest["consistency"] == "per-file"
    members = _members(exported)
    listed = {row["path"] for row in scanned.manifest["members"]}
    assert listed == set(members) - {"manifest.json"}
    documents = {
        url("/ann/" + n[4:].removesuffix(CONTAINER))
        for n, (_, media) in members.items()
        if n.startswith("pod/") and (media == "text/turtle")
    }
    quads = list(ox.parse(members["pod.trig"][0], ox.RdfFormat.TRIG))
    graphs = {q.graph_name.value for q in quads if isinstance(q.graph_name, ox.NamedNode)}
    assert graphs == documents
    contains = {
        q.object.value
        for q in quads
        if q.graph_name == ox.NamedNode(url("/ann/"))
        and q.predicate == ox.NamedNode("http://www.w3.org/ns/ldp#contains")
    }
    assert url("/ann/docs/") in contains
    assert url("/ann/data.bin") in contains

    # The account page's link gives the same copy through the session.
    r = await pod.client.get("/.account/export/ann", as_agent=None)
    assert r.status == 200
    assert archive.scan(io.BytesIO(await r.read())).entries.keys() == scanned.entries.keys()
    r = await pod.client.get("/.account/", as_agent=None)
    assert "/.account/export/ann" in await r.text()


async def _page_session(pod: Pod) -> list[str]:
    """Log in on the account page; the values of the cookies it set (the session's)."""
    r = await pod.client.get("/.account/login", as_agent=None)
    csrf = re.search(r'name="csrf" value="([^"]+)"', await r.text())
    assert csrf is not None
    r = await pod.client.post(
        "/.account/login",
        data={"email": "ann@example.org", "password": PASSWORD, "csrf": csrf.group(1)},
        as_agent=None,
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    cookies = [c.value for c in pod.client.session.cookie_jar if len(c.value) >= 16]
    assert cookies
    return cookies


async def test_import_into_a_new_name_rewrites_the_urls(pod: Pod, bob: Agent) -> None:
    exported = await _export(pod)
    r = await _import(pod, "copy", exported)
    assert r.status == 201, await r.text()
    done = await r.json()
    assert done["renamed"] is True
    assert done["podRoot"] == url("/copy/")
    store = pod.app[STORE]
    assert store.storages.owner("/copy/") == url("/copy/profile/card#me")
    card, media = await _bytes_of(pod.app, "/copy/profile/card")
    assert media == "text/turtle"
    triples = ox.parse(card, ox.RdfFormat.TURTLE, base_iri=url("/copy/profile/card"))
    iris = {t.object.value for t in triples if isinstance(t.object, ox.NamedNode)}
    assert url("/copy/") in iris
    assert not [i for i in iris if i.startswith(url("/ann/"))]
    assert await _bytes_of(pod.app, "/copy/data.bin") == pod.files["/ann/data.bin"]
    # The access log came along (bob's read), its paths moved to the new pod.
    assert done["logDays"] == 1
    log = pod.app[DISCLOSURES]
    assert log is not None
    days = log.journal.days(key_of("/copy/"))
    records = [json.loads(p) for p in log.journal.read(key_of("/copy/"), days[0])]
    assert {r["p"] for r in records if r.get("a") == bob.webid} == {"/copy/docs/note.ttl"}
    r = await pod.client.get("/.account/api/me", headers=pod.auth, as_agent=None)
    assert "copy" in [p["name"] for p in (await r.json())["pods"]]


def _tampered(data: bytes, member: str) -> bytes:
    """The archive with one byte of `member` changed, its manifest as it was."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar,
        tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as new,
    ):
        for info in tar:
            f = tar.extractfile(info)
            assert f is not None
            body = f.read()
            if info.name == member:
                body = bytes([body[0] ^ 1]) + body[1:]
            new.addfile(info, io.BytesIO(body))
    return out.getvalue()


async def test_a_tampered_member_is_named_and_nothing_is_written(pod: Pod) -> None:
    exported = await _export(pod)
    r = await _import(pod, "other", _tampered(exported, "pod/data.bin"))
    assert r.status == 400
    assert "pod/data.bin" in (await r.json())["detail"]
    assert await pod.app[STORE].head("/other/") is None
    r = await _import(pod, "other", b"not an archive at all")
    assert r.status == 400
    assert await pod.app[STORE].head("/other/") is None


async def test_over_quota_is_507_before_any_write(pod: Pod) -> None:
    exported = await _export(pod)
    await pod.app[QUOTAS].set_limit("/small/", 10_000)
    r = await _import(pod, "small", exported)
    assert r.status == 507, await r.text()
    assert await pod.app[STORE].head("/small/") is None
    r = await pod.client.get("/.account/api/me", headers=pod.auth, as_agent=None)
    assert "small" not in [p["name"] for p in (await r.json())["pods"]]


async def test_only_the_owner_of_a_pod_exports_it(pod: Pod) -> None:
    other = await _account(pod.client, "olaf@example.org", "olaf")
    r = await pod.client.get(
        "/.account/api/pods/ann/export", headers={"Authorization": f"Bearer {other}"}, as_agent=None
    )
    assert r.status == 404
    r = await pod.client.get("/.account/api/pods/ann/export", as_agent=None)
    assert r.status == 401
    r = await pod.client.get("/.account/export/ann", as_agent=None, allow_redirects=False)
    assert r.status == 303  # to the log-in page
    exported = await _export(pod)
    r = await pod.client.post(
        "/.account/api/pods/ann/import",
        data=exported,
        headers={"Authorization": f"Bearer {other}"},
        as_agent=None,
    )
    assert r.status == 409  # ann is not olaf's name


async def test_the_account_page_imports_with_its_csrf_token(pod: Pod) -> None:
    exported = await _export(pod)
    await _page_session(pod)
    page = await (await pod.client.get("/.account/", as_agent=None)).text()
    assert 'action="/.account/import"' in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None

    def form(token: str) -> aiohttp.FormData:
        data = aiohttp.FormData()
        data.add_field("csrf", token)
        data.add_field("pod", "viapage")
        data.add_field("archive", exported, filename="ann.tar.gz", content_type="application/gzip")
        return data

    r = await pod.client.post("/.account/import", data=form("wrong"), as_agent=None)
    assert r.status == 403
    assert await pod.app[STORE].head("/viapage/") is None
    r = await pod.client.post("/.account/import", data=form(csrf.group(1)), as_agent=None)
    assert r.status == 200, await r.text()
    assert "viapage" in await r.text()
    assert await _bytes_of(pod.app, "/viapage/data.bin") == pod.files["/ann/data.bin"]


async def test_import_on_another_server_rewrites_the_webid_and_the_issuer(
    pod: Pod, aiohttp_client: ClientFactory, backend_kind: str, tmp_path: Path
) -> None:
    exported = await _export(pod)
    other_dir = tmp_path / "other"
    settings = Settings(
        base_url="http://other.example/",
        data_dir=other_dir,
        access_log=False,
        password_cost=10,
        fetch_private_networks=True,
    )
    backend = MemoryBackend() if backend_kind == "memory" else FileBackend(other_dir, fsync=False)
    other = create_app(settings, backend=backend)
    client = PodClient(await aiohttp_client(other), None)
    token = await _account(client, "ann@example.org", "someone")
    r = await client.post(
        "/.account/api/pods/ann/import",
        data=exported,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/gzip"},
    )
    assert r.status == 201, await r.text()
    assert (await r.json())["podRoot"] == "http://other.example/ann/"
    webid = "http://other.example/ann/profile/card#me"
    assert other[STORE].storages.owner("/ann/") == webid
    card, _ = await _bytes_of(other, "/ann/profile/card")
    triples = list(
        ox.parse(card, ox.RdfFormat.TURTLE, base_iri="http://other.example/ann/profile/card")
    )
    said = {(t.predicate.value, t.object.value) for t in triples if t.subject.value == webid}
    assert ("http://www.w3.org/ns/solid/terms#oidcIssuer", "http://other.example/") in said
    assert ("http://www.w3.org/ns/pim/space#storage", "http://other.example/ann/") in said
    assert not [t for t in triples if "pod.example" in str(t)]
    # Non-RDF bytes are the same; a grant's document names the new pod.
    assert await _bytes_of(other, "/ann/data.bin") == pod.files["/ann/data.bin"]
    grants = await other[GRANTS].book.all_in("/ann/")
    assert [g.terms.resources for g in grants] == [(NOTE,)]


async def _archive_of(members: dict[str, tuple[bytes, str]], root: str) -> bytes:
    """An archive made by the export's writer, its manifest true to `members`."""
    out = bytearray()

    async def sink(data: bytes) -> None:
        out.extend(data)

    writer = archive.ArchiveWriter(sink, meta={"export": {"root": root}})
    for name, (data, media) in members.items():
        await writer.add_bytes(name, data, media_type=media)
    await writer.finish()
    return bytes(out)


@pytest.mark.parametrize(
    "bad",
    [
        "pod/.kluis-layout",  # a name the server reserves
        "pod/docs//twice",  # an empty name
        "pod/../escape",  # a dot-segment
    ],
)
async def test_a_member_no_request_could_name_is_refused_before_any_write(
    pod: Pod, bad: str
) -> None:
    data = await _archive_of(
        {
            "pod/" + CONTAINER: (b"", "text/turtle"),
            "pod/fine.txt": (b"fine", "text/plain"),
            bad: (b"x", "text/plain"),
        },
        url("/ann/"),
    )
    r = await _import(pod, "bad", data)
    assert r.status == 400, await r.text()
    assert await pod.app[STORE].head("/bad/") is None

"""Importing a pod after review (issue 15 §3): limits read from each member's header, a form
that reads nothing it does not need, slots taken before an upload is spooled, an account read
again before it is written, exports that cannot hold a slot forever, access log records of
the wrong types, all-or-nothing writes; and the round trip through an erasure with the
reclaim code. Over real HTTP, once per storage backend."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import socket
import tarfile
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from pod import paths
from pod.config import Settings
from pod.http.keys import ACCOUNTS, DISCLOSURES, STORE
from pod.ldp.resources import layer
from pod.ldp.rules import SolidRules
from pod.rights import archive
from pod.rights.exporting import CONTAINER
from pod.vault.disclosures import day_of, key_of
from tests.conftest import url
from tests.rights.test_export import (
    NOTE,
    PASSWORD,
    Pod,
    _archive_of,
    _bytes_of,
    _empty,
    _export,
    _import,
    _members,
    _page_session,
    pod,
)
from tests.support import Agent

__all__ = ["pod"]

BODY_LIMIT = 1_000_000
RDF_LIMIT = 200_000
IMPORT_LIMIT = 3_000_000


@pytest.fixture
def settings(data_dir: Any) -> Settings:
    return Settings(
        base_url="http://pod.example/",
        data_dir=data_dir,
        max_body_bytes=BODY_LIMIT,
        max_rdf_bytes=RDF_LIMIT,
        max_import_bytes=IMPORT_LIMIT,
        body_timeout=1.0,
        access_log=False,
        fetch_private_networks=True,
        password_cost=10,
    )


async def _nothing_written(pod: Pod, name: str) -> None:
    assert await pod.app[STORE].head(f"/{name}/") is None
    r = await pod.client.get("/.account/api/me", headers=pod.auth, as_agent=None)
    assert name not in [p["name"] for p in (await r.json())["pods"]]


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    """An archive of crafted members (no manifest: they are refused before it matters)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def _info(
    name: str,
    kind: bytes = tarfile.REGTYPE,
    *,
    media: str = "text/plain",
    pax: dict[str, str] | None = None,
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.pax_headers = {"KLUIS.type": media, **(pax or {})}
    return info


# --- 1. limits, from each member's header ----------------------------------------------------


@pytest.mark.parametrize(
    ("member", "size", "media"),
    [
        ("pod/big.ttl", RDF_LIMIT + 1, "text/turtle"),  # an RDF document: max_rdf_bytes
        ("pod/docs/" + CONTAINER, RDF_LIMIT + 1, "text/turtle"),  # a container's description
        ("pod/big.bin", BODY_LIMIT + 1, "application/octet-stream"),  # a file: max_body_bytes
        ("log/2026-01-01.jsonl", BODY_LIMIT + 1, "application/jsonl"),  # a day of the log
    ],
)
async def test_a_member_larger_than_a_put_of_its_kind_is_refused_by_name(
    pod: Pod, member: str, size: int, media: str
) -> None:
    data = await _archive_of(
        {
            "pod/" + CONTAINER: (b"", "text/turtle"),
            "pod/fine.txt": (b"fine", "text/plain"),
            member: (b"# " + b"x" * (size - 3) + b"\n", media),
        },
        url("/ann/"),
    )
    r = await _import(pod, "big", data)
    assert r.status == 400, await r.text()
    detail = (await r.json())["detail"]
    assert member in detail
    assert "limit" in detail
    await _nothing_written(pod, "big")


async def test_more_than_max_import_bytes_unpacked_is_refused(pod: Pod) -> None:
    zeros = bytes(900_000)  # each within max_body_bytes; four are past max_import_bytes
    members = {"pod/" + CONTAINER: (b"", "text/turtle")}
    members |= {f"pod/zero-{i}.bin": (zeros, "application/octet-stream") for i in range(4)}
    data = await _archive_of(members, url("/ann/"))
    assert len(data) < 100_000  # the upload is small: only unpacked is it large
    r = await _import(pod, "zeros", data)
    assert r.status == 400, await r.text()
    assert "pod/zero-3.bin" in (await r.json())["detail"]
    await _nothing_written(pod, "zeros")


async def test_a_manifest_over_its_limit_is_refused_before_it_is_read(pod: Pod) -> None:
    members = {"pod/" + CONTAINER: (b"", "text/turtle")}
    good = _members(await _archive_of(members, url("/ann/")))
    manifest = json.loads(good["manifest.json"][0])
    padded = json.dumps(manifest).encode() + b" " * (16 * 1024 * 1024)  # still valid JSON
    data = _tar(
        [
            (_info("pod/" + CONTAINER, media="text/turtle"), b""),
            (_info("manifest.json", media="application/json"), padded),
        ]
    )
    r = await _import(pod, "padded", data)
    assert r.status == 400, await r.text()
    detail = (await r.json())["detail"]
    assert "manifest.json" in detail
    assert "limit" in detail
    await _nothing_written(pod, "padded")


async def test_more_members_than_the_cap_are_refused(pod: Pod) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(50_001):
            tar.addfile(tarfile.TarInfo(f"pod/{i}"), io.BytesIO(b""))
    r = await _import(pod, "many", out.getvalue())
    assert r.status == 400, await r.text()
    detail = (await r.json())["detail"]
    assert "more than 50000 members" in detail
    assert "pod/50000" in detail
    await _nothing_written(pod, "many")


def _symlink() -> tarfile.TarInfo:
    info = _info("pod/link", tarfile.SYMTYPE)
    info.linkname = "/etc/passwd"
    return info


def _hardlink() -> tarfile.TarInfo:
    info = _info("pod/hard", tarfile.LNKTYPE)
    info.linkname = "pod/fine.txt"
    return info


def _device(kind: bytes) -> tarfile.TarInfo:
    info = _info("pod/device", kind)
    info.devmajor, info.devminor = 1, 3
    return info


@pytest.mark.parametrize(
    ("info", "named"),
    [
        (_symlink(), "pod/link"),
        (_hardlink(), "pod/hard"),
        (_device(tarfile.CHRTYPE), "pod/device"),
        (_device(tarfile.BLKTYPE), "pod/device"),
        (_info("pod/fifo", tarfile.FIFOTYPE), "pod/fifo"),
        (_info("pod/dir", tarfile.DIRTYPE), "pod/dir"),
        (_info("pod/sparse", tarfile.GNUTYPE_SPARSE), "pod/sparse"),
        (  # a sparse file in the pax form (GNU tar 1.28 --sparse --format=posix)
            _info(
                "pod/sparse.pax",
                pax={"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.realsize": "9"},
            ),
            "pod/sparse.pax",
        ),
        (_info("/etc/absolute"), "/etc/absolute"),
        (_info("pod/../../escape"), "pod/../../escape"),
    ],
    ids=[
        "symlink",
        "hardlink",
        "chardev",
        "blockdev",
        "fifo",
        "dir",
        "sparse",
        "pax-sparse",
        "absolute",
        "dotdot",
    ],
)
async def test_anything_but_a_regular_file_is_refused_by_name(
    pod: Pod, info: tarfile.TarInfo, named: str
) -> None:
    data = _tar(
        [
            (_info("pod/" + CONTAINER, media="text/turtle"), b""),
            (_info("pod/fine.txt"), b"fine"),
            (info, b"123456789"),
        ]
    )
    r = await _import(pod, "odd", data)
    assert r.status == 400, await r.text()
    assert named in (await r.json())["detail"]
    await _nothing_written(pod, "odd")


# --- 2. the upload: parts, timeouts, the slot before the spool -------------------------------


async def _form_token(pod: Pod) -> str:
    await _page_session(pod)
    page = await (await pod.client.get("/.account/", as_agent=None)).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return str(found.group(1))


@pytest.mark.parametrize("extra", ["archive", "unknown"])
async def test_the_form_refuses_a_second_archive_and_unknown_parts(pod: Pod, extra: str) -> None:
    exported = await _export(pod)
    csrf = await _form_token(pod)
    form = aiohttp.FormData()
    form.add_field("csrf", csrf)
    form.add_field("pod", "twice")
    if extra == "unknown":
        form.add_field("unknown", "x" * 1000)
    form.add_field("archive", exported, filename="a.tar.gz", content_type="application/gzip")
    if extra == "archive":
        form.add_field("archive", exported, filename="b.tar.gz", content_type="application/gzip")
    r = await pod.client.post("/.account/import", data=form, as_agent=None)
    assert r.status == 400, await r.text()
    await _nothing_written(pod, "twice")


async def test_a_form_field_that_stops_arriving_times_out(pod: Pod) -> None:
    csrf = await _form_token(pod)
    boundary = "b0undary"

    async def body() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="pod"\r\n\r\nslo'
        ).encode()
        await asyncio.sleep(30)  # the rest of the field never comes
        yield b"w\r\n"

    r = await asyncio.wait_for(
        pod.client.post(
            "/.account/import",
            data=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            as_agent=None,
        ),
        timeout=10,
    )
    assert r.status == 408, await r.text()


async def _held_upload(pod: Pod, name: str, data: bytes, go: asyncio.Event) -> Any:
    """An import whose body stops half-way until `go` is set."""

    async def body() -> AsyncIterator[bytes]:
        yield data[: len(data) // 2]
        await go.wait()
        yield data[len(data) // 2 :]

    return await pod.client.post(
        f"/.account/api/pods/{name}/import",
        data=body(),
        headers={**pod.auth, "Content-Type": "application/gzip"},
        as_agent=None,
    )


async def test_the_slot_is_taken_before_the_upload_is_spooled(pod: Pod) -> None:
    exported = await _export(pod)
    go = asyncio.Event()
    first = asyncio.create_task(_held_upload(pod, "first", exported, go))
    await asyncio.sleep(0.3)  # its head arrived, its body is half-way
    # The same account's second import is refused at once, before its body is read.
    r = await asyncio.wait_for(_import(pod, "second", exported), timeout=5)
    assert r.status == 429, await r.text()
    go.set()
    r = await first
    assert r.status == 201, await r.text()
    await _nothing_written(pod, "second")


# --- 3. the account as it is when the pod is claimed -------------------------------------------


async def test_an_account_disabled_during_an_import_stays_disabled(pod: Pod) -> None:
    exported = await _export(pod)
    accounts = pod.app[ACCOUNTS]
    go = asyncio.Event()
    upload = asyncio.create_task(_held_upload(pod, "late", exported, go))
    await asyncio.sleep(0.3)
    account = await accounts.by_email("ann@example.org")
    await accounts.set_disabled(account, True)  # as `kluis admin disable` does, meanwhile
    go.set()
    r = await upload
    assert r.status == 403, await r.text()
    account = await accounts.by_email("ann@example.org")
    assert account.disabled
    assert "late" not in account.pods
    assert await pod.app[STORE].head("/late/") is None


# --- 4. an export whose client reads nothing ---------------------------------------------------


async def test_an_export_nobody_reads_gives_its_slot_back(pod: Pod) -> None:
    store = pod.app[STORE]
    for i in range(12):  # more than the socket buffers on both ends take
        await store.put(
            f"/ann/noise/{i}.bin", data=os.urandom(1_000_000), content_type="application/x-noise"
        )
    _, writer = await _stalled_export(pod)
    try:
        # It reads nothing more. Within body_timeout (1 s) of its stalling, the slot is free.
        deadline = time.monotonic() + 15
        while True:
            r = await pod.client.get(
                "/.account/api/pods/ann/export", headers=pod.auth, as_agent=None
            )
            if r.status == 200:
                assert "noise/11.bin" in str(_members(await r.read()).keys())
                break
            assert r.status == 429, await r.text()
            assert time.monotonic() < deadline, "the stalled export kept its slot"
            await asyncio.sleep(0.5)
    finally:
        writer.close()


async def _stalled_export(pod: Pod) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """An export request from a client with a small receive buffer; its status line read."""
    server = pod.client.client.server
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (server.host, server.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        b"GET /.account/api/pods/ann/export HTTP/1.1\r\nHost: pod.example\r\n"
        + f"Authorization: Bearer {pod.token}\r\n\r\n".encode()
    )
    await writer.drain()
    assert (await reader.readline()).startswith(b"HTTP/1.1 200")
    return reader, writer


async def test_an_export_that_fails_half_way_is_cut_and_gives_its_slot_back(
    pod: Pod, backend_kind: str, data_dir: Any
) -> None:
    if backend_kind != "fs":
        pytest.skip("a file changed in place, by hand, under the file backend")
    await pod.app[STORE].put(
        "/ann/aaa.bin", data=os.urandom(20_000_000), content_type="application/x-noise"
    )
    reader, writer = await _stalled_export(pod)
    try:
        await asyncio.sleep(0.3)  # the export is streaming aaa.bin, stalled by the client
        os.truncate(data_dir / "ann" / "aaa.bin", 1_000_000)  # as someone on the server might
        received = bytearray()
        with contextlib.suppress(ConnectionError):
            while chunk := await asyncio.wait_for(reader.read(1 << 20), timeout=10):
                received += chunk
    finally:
        writer.close()
    body = bytes(received).split(b"\r\n\r\n", 1)[-1]
    with pytest.raises(archive.ArchiveError):  # cut: no manifest, so it never imports
        archive.scan(io.BytesIO(_unchunked(body)))
    r = await pod.client.get("/.account/api/pods/ann/export", headers=pod.auth, as_agent=None)
    assert r.status == 200, await r.text()  # the slot is free again


def _unchunked(body: bytes) -> bytes:
    """The data of an HTTP/1.1 chunked body, as far as it arrived."""
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)


# --- 5. access log records of the wrong types ---------------------------------------------------

_BAD_RECORDS = [
    {"v": 1, "t": "yesterday", "m": "GET", "s": 200, "a": "https://x.example/#i", "p": "/ann/"},
    {"v": 1, "t": 1.0, "m": "GET", "s": "ok", "a": "https://x.example/#i", "p": "/ann/"},
    {"v": 1, "t": 1.0, "m": "GET", "s": 200, "a": ["a list"], "p": "/ann/"},
    {"v": 1, "t": 1.0, "m": "GET", "s": 200, "a": "https://x.example/#i", "p": "/ann/", "b": 5},
    {"v": 1, "t": 1.0, "m": "GET", "s": 200, "a": "https://x.example/#i", "p": 7},
    {"v": 1, "k": "n", "d": "2026-01-01", "p": "/ann/", "n": "many"},
    [1, 2, 3],
]


async def test_log_records_of_the_wrong_types_are_skipped_and_counted(pod: Pod, bob: Agent) -> None:
    members = _members(await _export(pod))
    day = next(n for n in members if n.startswith("log/"))
    lines = members[day][0] + b"".join(json.dumps(b).encode() + b"\n" for b in _BAD_RECORDS)
    members[day] = (lines + b"not json\n", members[day][1])
    del members["manifest.json"]
    data = await _archive_of(members, url("/ann/"))
    r = await _import(pod, "copy", data)
    assert r.status == 201, await r.text()
    done = await r.json()
    assert done["logDays"] == 1
    assert done["logSkipped"] == len(_BAD_RECORDS) + 1
    log = pod.app[DISCLOSURES]
    assert log is not None
    kept = [json.loads(p) for p in log.journal.read(key_of("/copy/"), day[4:14])]
    assert {r["p"] for r in kept if r.get("a") == bob.webid} == {"/copy/docs/note.ttl"}
    await _page_session(pod)
    r = await pod.client.get("/.account/disclosures?pod=copy", as_agent=None)
    assert r.status == 200, await r.text()


async def test_the_log_readers_skip_records_of_the_wrong_types(pod: Pod) -> None:
    log = pod.app[DISCLOSURES]
    assert log is not None
    today = day_of(time.time())
    for record in _BAD_RECORDS:  # as a journal edited by hand, or an older import, holds them
        log.journal.append(key_of("/ann/"), today, json.dumps(record).encode())
    await _page_session(pod)
    r = await pod.client.get("/.account/disclosures?pod=ann", as_agent=None)
    assert r.status == 200, await r.text()
    r = await pod.client.get("/.account/disclosures?pod=ann&days=1&who=x", as_agent=None)
    assert r.status == 200, await r.text()


# --- 7. all or nothing -------------------------------------------------------------------------


async def test_a_document_that_does_not_parse_is_refused_before_any_write(pod: Pod) -> None:
    data = await _archive_of(
        {
            "pod/" + CONTAINER: (b"", "text/turtle"),
            "pod/a.txt": (b"written first, before", "text/plain"),
            "pod/z.ttl": (b"this is not turtle <", "text/turtle"),
        },
        url("/ann/"),
    )
    r = await _import(pod, "parsed", data)
    assert r.status == 400, await r.text()
    assert "pod/z.ttl" in (await r.json())["detail"]
    await _nothing_written(pod, "parsed")


async def test_a_member_the_store_refuses_takes_back_the_whole_import(pod: Pod) -> None:
    members = {
        "pod/" + CONTAINER: (b"", "text/turtle"),
        "pod/a.txt": (b"written first", "text/plain"),
        "pod/docs/" + CONTAINER: (b"", "text/turtle"),
        "pod/docs/b.ttl": (b"<#b> <http://ex.example/#p> 1 .\n", "text/turtle"),
        # An auxiliary resource must be RDF: the store refuses it, after the others.
        "pod/docs/b.ttl.meta": (b"not RDF", "text/plain"),
    }
    r = await _import(pod, "undone", await _archive_of(members, url("/ann/")))
    assert r.status == 409, await r.text()
    assert "pod/docs/b.ttl.meta" in (await r.json())["detail"]
    await _nothing_written(pod, "undone")
    # The name is free again: the same import, without the bad member, goes through.
    del members["pod/docs/b.ttl.meta"]
    r = await _import(pod, "undone", await _archive_of(members, url("/ann/")))
    assert r.status == 201, await r.text()
    assert await _bytes_of(pod.app, "/undone/a.txt") == (b"written first", "text/plain")


async def test_an_empty_pod_filled_in_part_is_emptied_again(pod: Pod) -> None:
    exported = await _export(pod)
    await _empty(pod, list(_members(exported)))
    members = {
        "pod/" + CONTAINER: (b"", "text/turtle"),
        "pod/a.txt": (b"written first", "text/plain"),
        "pod/b.txt": (b"b", "text/plain"),
        "pod/b.txt.meta": (b"not RDF", "text/plain"),
    }
    r = await _import(pod, "ann", await _archive_of(members, url("/ann/")))
    assert r.status == 409, await r.text()
    children = await layer(pod.app[STORE], SolidRules).backend.children("/ann/")
    assert [c.path for c in children] == ["/ann/.acl"]
    r = await _import(pod, "ann", exported)  # and it can be tried again
    assert r.status == 200, await r.text()


# --- the round trip through an erasure ----------------------------------------------------------


async def test_erase_sign_up_again_and_import_with_the_reclaim_code(pod: Pod, bob: Agent) -> None:
    exported = await _export(pod)
    r = await pod.client.delete(
        "/.account/api/me", json={"password": PASSWORD}, headers=pod.auth, as_agent=None
    )
    assert r.status == 200, await r.text()
    code = (await r.json())["reclaimCode"]
    assert (await pod.client.get(NOTE, as_agent=bob)).status == 410
    r = await pod.client.post(
        "/.account/api/accounts",
        json={"email": "ann@example.org", "password": PASSWORD},
        as_agent=None,
    )
    assert r.status == 201, await r.text()
    r = await pod.client.post(
        "/.account/api/login",
        json={"email": "ann@example.org", "password": PASSWORD},
        as_agent=None,
    )
    pod.token = str((await r.json())["token"])
    # The name is held: without its code, or with another, nothing is made.
    for query in ("", "?reclaim=not-the-code"):
        r = await pod.client.post(
            "/.account/api/pods/ann/import" + query,
            data=exported,
            headers={**pod.auth, "Content-Type": "application/gzip"},
            as_agent=None,
        )
        assert r.status == 409, await r.text()
        assert "reclaim code" in (await r.json())["detail"]
        assert await pod.app[STORE].head("/ann/") is None
    r = await pod.client.post(
        "/.account/api/pods/ann/import?reclaim=" + code,
        data=exported,
        headers={**pod.auth, "Content-Type": "application/gzip"},
        as_agent=None,
    )
    assert r.status == 201, await r.text()
    done = await r.json()
    assert done["renamed"] is False
    for path, (data, media) in pod.files.items():
        assert await _bytes_of(pod.app, path) == (data, media), path
        r = await pod.client.get(paths.to_url_path(path))  # alice, as the ACLs say
        assert r.status == 200, path
        assert await r.read() == data
        assert r.headers["Content-Type"].split(";")[0] == media
    r = await pod.client.get(NOTE, as_agent=bob)  # the grant holds again
    assert r.status == 200, await r.text()
    r = await pod.client.get("/.account/api/me", headers=pod.auth, as_agent=None)
    assert [p["name"] for p in (await r.json())["pods"]] == ["ann"]
    # The hold is over: the code is used up.
    r = await pod.client.get("/ann/profile/card", as_agent=None)
    assert r.status == 200


async def test_the_import_form_refuses_another_media_type_with_415(pod: Pod) -> None:
    await _page_session(pod)
    r = await pod.client.post(
        "/.account/import",
        data=b'{"pod": "ann"}',
        headers={"Content-Type": "application/json"},
        as_agent=None,
    )
    assert r.status == 415, await r.text()
    assert await pod.app[STORE].head("/ann/") is not None  # the pod is as it was


async def test_the_import_form_takes_a_reclaim_code(pod: Pod) -> None:
    exported = await _export(pod)
    r = await pod.client.delete(
        "/.account/api/me", json={"password": PASSWORD}, headers=pod.auth, as_agent=None
    )
    assert r.status == 200, await r.text()
    code = (await r.json())["reclaimCode"]
    r = await pod.client.post(
        "/.account/api/accounts",
        json={"email": "ann@example.org", "password": PASSWORD},
        as_agent=None,
    )
    assert r.status == 201, await r.text()
    csrf = await _form_token(pod)
    # The account page offers the field, between the name and the archive: a browser sends the
    # fields in the form's order, and the server reads the archive last.
    page = await (await pod.client.get("/.account/", as_agent=None)).text()
    start = page.index('action="/.account/import"')
    form_html = page[start : page.index("</form>", start)]
    assert (
        form_html.index('name="pod"')
        < form_html.index('name="reclaim"')
        < form_html.index('name="archive"')
    )

    def form(reclaim: str) -> aiohttp.FormData:
        data = aiohttp.FormData()
        data.add_field("csrf", csrf)
        data.add_field("pod", "ann")
        data.add_field("reclaim", reclaim)
        data.add_field("archive", exported, filename="ann.tar.gz", content_type="application/gzip")
        return data

    r = await pod.client.post("/.account/import", data=form("not-the-code"), as_agent=None)
    assert r.status == 409, await r.text()
    assert await pod.app[STORE].head("/ann/") is None
    r = await pod.client.post("/.account/import", data=form(code), as_agent=None)
    assert r.status == 200, await r.text()
    assert await _bytes_of(pod.app, "/ann/data.bin") == pod.files["/ann/data.bin"]

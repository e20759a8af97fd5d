"""The owner's "My data" pages (`.account/data/<pod>/`, issue 15 §2) over real HTTP, on both
storage backends: browsing, the readable view of RDF in English and Dutch, download, upload,
new folder, delete, who can see an item and sharing changes, each checked from outside over LDP
(the owner's token, a second agent's, or none)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any, Final

import aiohttp
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.idp.conftest import Kluis, browser_session, csrf_of, sign_up
from tests.idp.test_access_page import Publisher, ask_body, publisher, signed_in_as
from tests.idp.test_pages import logged_in

# Both storage backends (the quota test chooses its own).
backends = pytest.mark.parametrize(
    "kluis", [{"storage": "memory"}, {"storage": "file"}], indirect=True, ids=["memory", "file"]
)

EMAIL: Final = "alice@example.org"
DATA: Final = ".account/data/alice/"
TURTLE: Final = {"Content-Type": "text/turtle"}
DUTCH: Final = {"Accept-Language": "nl-NL,nl;q=0.9"}
BYTES: Final = bytes(range(256)) * 40 + b"\x00\xff end"


async def _page(
    browser: aiohttp.ClientSession, url: str, *, status: int = 200, **options: Any
) -> str:
    async with browser.get(url, allow_redirects=False, **options) as r:
        text = await r.text()
        assert r.status == status, text[:2000]
        if status == 200:
            assert r.content_type == "text/html"
        return text


async def _post(
    browser: aiohttp.ClientSession, url: str, data: Any, *, status: int = 303
) -> tuple[str, str]:
    """Post a form of the page at `url`; (where it sends the browser, the answer's text)."""
    async with browser.post(url, data=data, allow_redirects=False) as r:
        text = await r.text()
        assert r.status == status, text[:2000]
        return r.headers.get("Location", ""), text


async def _owner(kluis: Kluis, http: aiohttp.ClientSession) -> Publisher:
    return await signed_in_as(kluis, http, EMAIL, "alice")


def _dt_texts(html: str) -> list[str]:
    return [unescape(t).strip() for t in re.findall(r"<dt [^>]*>(.*?)</dt>", html, re.S)]


@backends
async def test_the_pod_link_leads_to_my_data_never_to_a_json_401(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser:
        # Without a session: the log-in page, not a problem+json 401.
        async with browser.get(kluis.url(DATA), allow_redirects=False) as r:
            assert r.status == 303
            assert r.headers["Location"] == kluis.url(".account/login")
        account = await logged_in(kluis, browser, EMAIL)
        assert f'href="/{DATA}"' in account
        page = await _page(browser, kluis.url(DATA))
        for child in ("profile/", "settings/", "inbox/", "preferences/"):
            assert f'href="/{DATA}{child}"' in page
        assert "My data" in page
        # Breadcrumbs and the items of a deeper folder.
        settings = await _page(browser, kluis.url(DATA + "settings/"))
        assert f'<a href="/{DATA}">alice</a>' in settings
        assert "prefs.ttl" in settings
        assert "Linked data (text/turtle)" in settings
        # Without the slash: the pod's page.
        async with browser.get(kluis.url(DATA[:-1]), allow_redirects=False) as r:
            assert r.status in (301, 302, 303, 307, 308)
            assert r.headers["Location"] == kluis.url(DATA)


@backends
async def test_a_document_shows_labels_not_iris_in_english_and_dutch(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser, aiohttp.ClientSession() as http:
        owner = await _owner(kluis, http)
        url = kluis.url("alice/notes/about")
        status, text = await owner.call(
            "PUT",
            url,
            data=(
                "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"
                "<#it> a foaf:Person ; foaf:name 'Alice' ; "
                "<https://example.org/ns#favouriteColour> 'green' ; "
                f"foaf:knows <{kluis.url('alice/profile/card#me')}> ."
            ),
            headers=TURTLE,
        )
        assert status == 201, text
        await logged_in(kluis, browser, EMAIL)
        english = await _page(browser, kluis.url(DATA + "notes/about"))
        terms = _dt_texts(english)
        assert {"name", "knows", "favourite colour"} <= set(terms)
        assert not [t for t in terms if "://" in t]  # no predicate shown as an IRI
        assert ">person</a>" in english  # the class, by its label
        # A resource of the same pod links to its page of My data, fragment kept.
        assert f'href="/{DATA}profile/card#me"' in english
        dutch = await _page(browser, kluis.url(DATA + "notes/about"), headers=DUTCH)
        assert {"naam", "kent", "favourite colour"} <= set(_dt_texts(dutch))
        assert ">persoon</a>" in dutch
        assert "Wie kan dit zien" in dutch
        card = await _page(browser, kluis.url(DATA + "profile/card"), headers=DUTCH)
        assert "logt in bij" in _dt_texts(card)
        assert "Iedereen mag het lezen" in card  # the profile is public, in words
        assert "Jij mag het lezen" in card


@backends
async def test_download_gives_the_stored_bytes_as_an_attachment(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser, aiohttp.ClientSession() as http:
        owner = await _owner(kluis, http)
        url = kluis.url("alice/files/scan%201.bin")
        status, text = await owner.call(
            "PUT", url, data=BYTES, headers={"Content-Type": "application/x-scan"}
        )
        assert status == 201, text
        await logged_in(kluis, browser, EMAIL)
        page = await _page(browser, kluis.url(DATA + "files/scan%201.bin"))
        assert "File (application/x-scan)" in page
        assert "10.2 kB" in page
        async with browser.get(kluis.url(DATA + "files/scan%201.bin?download")) as r:
            assert r.status == 200
            assert await r.read() == BYTES
            assert r.headers["Content-Type"] == "application/x-scan"
            disposition = r.headers["Content-Disposition"]
            assert disposition.startswith("attachment;")
            assert "filename*=UTF-8''scan%201.bin" in disposition
            assert r.headers["Content-Security-Policy"] == "sandbox"  # never a page of ours


@backends
async def test_upload_new_folder_and_delete_are_seen_over_ldp(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser, aiohttp.ClientSession() as http:
        owner = await _owner(kluis, http)
        await logged_in(kluis, browser, EMAIL)
        page = await _page(browser, kluis.url(DATA))
        csrf = csrf_of(page)
        # A new folder, then a file uploaded into it.
        where, _ = await _post(
            browser, kluis.url(DATA), {"csrf": csrf, "action": "folder", "name": "photos"}
        )
        assert where == kluis.url(DATA + "photos/?done=folder")
        form = aiohttp.FormData()
        form.add_field("csrf", csrf)
        form.add_field("file", BYTES, filename="holiday.jpg", content_type="image/jpeg")
        where, _ = await _post(browser, kluis.url(DATA + "photos/"), form)
        assert where == kluis.url(DATA + "photos/?done=uploaded")
        listing = await _page(browser, where)
        assert "Uploaded." in listing
        assert f'href="/{DATA}photos/holiday.jpg"' in listing
        async with http.get(
            kluis.url("alice/photos/holiday.jpg"),
            headers=owner.token.headers("GET", kluis.url("alice/photos/holiday.jpg")),
        ) as r:
            assert await r.read() == BYTES
            assert r.headers["Content-Type"] == "image/jpeg"
        # The same name again: refused in words, nothing overwritten.
        again = aiohttp.FormData()
        again.add_field("csrf", csrf)
        again.add_field("file", b"other", filename="holiday.jpg", content_type="image/jpeg")
        _, refused = await _post(browser, kluis.url(DATA + "photos/"), again, status=409)
        assert "There is already something named holiday.jpg here." in unescape(refused)
        # A folder that holds something is not deleted.
        _, refused = await _post(
            browser, kluis.url(DATA + "photos/"), {"csrf": csrf, "action": "delete"}, status=409
        )
        assert "This folder is not empty: empty it first." in refused
        # The file, then the empty folder.
        where, _ = await _post(
            browser, kluis.url(DATA + "photos/holiday.jpg"), {"csrf": csrf, "action": "delete"}
        )
        assert where == kluis.url(DATA + "photos/?done=deleted")
        assert (await owner.call("GET", kluis.url("alice/photos/holiday.jpg")))[0] == 404
        where, _ = await _post(
            browser, kluis.url(DATA + "photos/"), {"csrf": csrf, "action": "delete"}
        )
        assert where == kluis.url(DATA + "?done=deleted")
        assert (await owner.call("GET", kluis.url("alice/photos/")))[0] == 404
        # The pod itself cannot be deleted from here.
        await _post(browser, kluis.url(DATA), {"csrf": csrf, "action": "delete"}, status=405)


@pytest.mark.parametrize(
    "kluis",
    [{"storage": "memory", "pod_quota_bytes": 200_000}],
    indirect=True,
    ids=["memory-quota"],
)
async def test_a_full_pod_refuses_an_upload_in_words(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser:
        await logged_in(kluis, browser, EMAIL)
        csrf = csrf_of(await _page(browser, kluis.url(DATA)))
        form = aiohttp.FormData()
        form.add_field("csrf", csrf)
        form.add_field("file", b"x" * 300_000, filename="big.bin")
        _, refused = await _post(browser, kluis.url(DATA), form, status=507)
        assert "There is no room for this in your pod" in refused
        dutch = aiohttp.FormData()
        dutch.add_field("csrf", csrf)
        dutch.add_field("file", b"x" * 300_000, filename="big.bin")
        async with browser.post(kluis.url(DATA), data=dutch, headers=DUTCH) as r:
            assert r.status == 507
            assert "Er is geen ruimte" in await r.text()


@backends
async def test_another_accounts_pod_is_404_and_csrf_is_required(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    await sign_up(kluis, "bob@example.org", "bob")
    async with browser_session() as bob, browser_session() as alice, aiohttp.ClientSession() as h:
        await logged_in(kluis, bob, "bob@example.org")
        await _page(bob, kluis.url(DATA), status=404)
        await _page(bob, kluis.url(DATA + "profile/card?download"), status=404)
        csrf = csrf_of(await _page(bob, kluis.url(".account/data/bob/")))
        await _post(
            bob, kluis.url(DATA + "profile/card"), {"csrf": csrf, "action": "delete"}, status=404
        )
        await _page(bob, kluis.url(".account/data/nobody/"), status=404)
        owner = await _owner(kluis, h)
        assert (await owner.call("GET", kluis.url("alice/profile/card")))[0] == 200
        # Alice's own forms, without the token or with Bob's: refused, nothing deleted.
        await logged_in(kluis, alice, EMAIL)
        target = kluis.url(DATA + "settings/prefs.ttl")
        await _post(alice, target, {"action": "delete"}, status=403)
        await _post(alice, target, {"csrf": csrf, "action": "delete"}, status=403)
        form = aiohttp.FormData()
        form.add_field("file", b"x", filename="x.txt")
        await _post(alice, kluis.url(DATA), form, status=403)
        assert (await owner.call("GET", kluis.url("alice/settings/prefs.ttl")))[0] == 200
        assert (await owner.call("GET", kluis.url("alice/x.txt")))[0] == 404


@backends
async def test_sharing_changes_are_seen_by_others_over_ldp(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser, aiohttp.ClientSession() as http:
        owner = await _owner(kluis, http)
        news = await publisher(kluis, http)
        url = kluis.url("alice/notes/diary")
        status, text = await owner.call("PUT", url, data="<#a> <#b> 'c' .", headers=TURTLE)
        assert status == 201, text
        await logged_in(kluis, browser, EMAIL)
        page_url = kluis.url(DATA + "notes/diary")
        page = unescape(await _page(browser, page_url))
        assert "You can read and change it and decide who has access" in page
        assert "These settings are those of the folder alice." in page
        csrf = csrf_of(page)
        async with http.get(url) as r:
            assert r.status == 401
        # Public read on: anyone reads it; off again: nobody without credentials.
        await _post(browser, page_url, {"csrf": csrf, "action": "public", "public": "on"})
        async with http.get(url) as r:
            assert r.status == 200
        page = unescape(await _page(browser, page_url + "?done=public"))
        assert "Everyone can read it" in page
        assert "These settings are this item's own." in page
        await _post(browser, page_url, {"csrf": csrf, "action": "public", "public": "off"})
        async with http.get(url) as r:
            assert r.status == 401
        # A person by WebID: read, then read and change, then not at all.
        webid = kluis.url("news/profile/card#me")
        assert (await news.call("GET", url))[0] == 403
        share = {"csrf": csrf, "action": "share", "webid": webid, "access": "read"}
        await _post(browser, page_url, share)
        assert (await news.call("GET", url))[0] == 200
        assert (await news.call("PUT", url, data="<#x> <#y> 'z' .", headers=TURTLE))[0] == 403
        page = await _page(browser, page_url)
        assert f'name="webid" value="{webid}"' in page  # the Stop sharing button
        await _post(browser, page_url, {**share, "access": "write"})
        assert (await news.call("PUT", url, data="<#x> <#y> 'z' .", headers=TURTLE))[0] == 204
        await _post(browser, page_url, {"csrf": csrf, "action": "unshare", "webid": webid})
        assert (await news.call("GET", url))[0] == 403
        # The owner never loses their own access, and cannot share with themselves.
        status, _acl = await owner.call("GET", url + ".acl")
        assert status == 200
        assert (await owner.call("GET", url))[0] == 200
        _, refused = await _post(
            browser,
            page_url,
            {"csrf": csrf, "action": "share", "webid": kluis.url("alice/profile/card#me")},
            status=400,
        )
        assert "That is your own WebID" in refused


@backends
async def test_a_grant_naming_the_item_is_listed_and_stopped_from_its_page(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser, aiohttp.ClientSession() as http:
        owner = await _owner(kluis, http)
        news = await publisher(kluis, http)
        url = kluis.url("alice/reading/topics")
        status, text = await owner.call("PUT", url, data="<#a> <#b> 'c' .", headers=TURTLE)
        assert status == 201, text
        status, text = await news.call(
            "POST", kluis.url(".kluis/consent/alice/requests"), data=ask_body([url]), headers=TURTLE
        )
        assert status == 201, text
        await logged_in(kluis, browser, EMAIL)
        access = await _page(browser, kluis.url(".account/access"))
        request_id = re.search(r'name="request" value="([0-9a-f]{32})"', access)
        assert request_id is not None
        decide = {
            "csrf": csrf_of(access),
            "pod": "/alice/",
            "request": request_id[1],
            "action": "approve",
            "resource-0": url,
        }
        await _post(browser, kluis.url(".account/access/decide"), decide)
        assert (await news.call("GET", url))[0] == 200
        page = unescape(await _page(browser, kluis.url(DATA + "reading/topics")))
        assert "Shared on request" in page
        assert "can read it through" in page
        grant = re.search(r'name="grant" value="([^"]+)"', page)
        assert grant is not None
        stop = {"csrf": csrf_of(page), "pod": "/alice/", "grant": grant[1]}
        await _post(browser, kluis.url(".account/access/withdraw"), stop)
        assert (await news.call("GET", url))[0] == 403
        page = await _page(browser, kluis.url(DATA + "reading/topics"))
        assert "Shared on request" not in page


@pytest.mark.parametrize(
    "kluis", [{"storage": "memory", "max_body_bytes": 100_000}], indirect=True, ids=["small"]
)
async def test_an_upload_over_the_size_limit_is_refused_in_words(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser, aiohttp.ClientSession() as http:
        await logged_in(kluis, browser, EMAIL)
        csrf = csrf_of(await _page(browser, kluis.url(DATA)))
        form = aiohttp.FormData()
        form.add_field("csrf", csrf)
        form.add_field("file", b"x" * 200_000, filename="big.bin")
        _, refused = await _post(browser, kluis.url(DATA), form, status=413)
        assert "That is too large: files of up to 100 kB can be uploaded." in refused
        owner = await _owner(kluis, http)
        assert (await owner.call("GET", kluis.url("alice/big.bin")))[0] == 404


# WebIDs an owner might type or paste, the odd ones first: each either can be an RDF IRI
# (shared, then unshared) or is refused in words; none may answer 500.
_ODD_WEBIDS: Final = (
    "https://x.example/a>b",
    "https://x.example/{",
    'https://x.example/"',
    "https://x.example/%zz",
    "https://x.example/a b",
    "https://x.example/a\\b",
    "https://x.example/`^|",
    "https://[x",
    "https://",
    "https://:80/",
    "https:///path",
    "mailto:bob@x.example",
    "https://x.example/" + "a" * 3000,
    "https://x.example/é#me",
    "https://bob.example/profile/card#me",
)


def _generated_webids(count: int) -> list[str]:
    found: list[str] = []

    @hypothesis_settings(max_examples=count, deadline=None, database=None)
    @given(
        st.one_of(
            st.text(max_size=16).map(lambda tail: "https://x.example/" + tail),
            st.tuples(st.text(max_size=8), st.text(max_size=8)).map(
                lambda parts: f"https://{parts[0]}/{parts[1]}"
            ),
            st.text(max_size=24),
        )
    )
    def collect(webid: str) -> None:
        found.append(webid)

    collect()
    return found


async def test_no_webid_makes_sharing_answer_500(kluis: Kluis) -> None:
    await sign_up(kluis, EMAIL, "alice")
    async with browser_session() as browser:
        await logged_in(kluis, browser, EMAIL)
        page_url = kluis.url(DATA + "settings/prefs.ttl")
        csrf = csrf_of(await _page(browser, page_url))
        answers: dict[int, int] = {}
        for webid in (*_ODD_WEBIDS, *_generated_webids(80)):
            share = {"csrf": csrf, "action": "share", "webid": webid, "access": "read"}
            async with browser.post(page_url, data=share, allow_redirects=False) as r:
                text = await r.text()
                answers[r.status] = answers.get(r.status, 0) + 1
                assert r.status in (303, 400), (webid, r.status, text[:1000])
                if r.status == 400:
                    assert 'role="alert"' in text, webid
                    continue
            unshare = {"csrf": csrf, "action": "unshare", "webid": webid}
            await _post(browser, page_url, unshare)
        assert answers[303] >= 2  # the good ones were shared
        assert answers[400] >= 10
        # The odd ones the brief names never reached the ACL: the page still reads it.
        await _page(browser, page_url)

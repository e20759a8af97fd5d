"""CORS for browser apps (Solid Protocol #server-cors*)."""

from __future__ import annotations

from tests.conftest import POD, Client

ORIGIN = "https://app.example"


async def test_responses_echo_the_origin(client: Client) -> None:
    r = await client.get(POD, headers={"Origin": ORIGIN})
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in r.headers["Vary"]
    exposed = {h.strip() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
    for needed in (
        "Accept-Patch",
        "Accept-Post",
        "Accept-Put",
        "Allow",
        "Content-Range",
        "ETag",
        "Last-Modified",
        "Link",
        "Location",
        "Updates-Via",
        "WAC-Allow",
        "WWW-Authenticate",
    ):
        assert needed in exposed


async def test_error_responses_carry_cors_headers(client: Client) -> None:
    r = await client.get(POD + "missing", headers={"Origin": ORIGIN})
    assert r.status == 404
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN


async def test_preflight(client: Client) -> None:
    r = await client.options(
        POD + "anything",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "content-type, authorization, dpop",
        },
    )
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PATCH" in r.headers["Access-Control-Allow-Methods"]
    allowed = r.headers["Access-Control-Allow-Headers"].lower()
    for h in ("accept", "content-type", "authorization", "dpop"):
        assert h in allowed


async def test_no_origin_no_cors_headers(client: Client) -> None:
    r = await client.get(POD)
    assert "Access-Control-Allow-Origin" not in r.headers


async def test_options_describes_the_resource(client: Client) -> None:
    r = await client.options(POD)
    assert r.status == 204
    assert "POST" in r.headers["Allow"]
    assert "text/n3" in r.headers["Accept-Patch"]
    r = await client.options(POD + "missing")
    assert r.status == 204
    assert "PUT" in r.headers["Allow"]

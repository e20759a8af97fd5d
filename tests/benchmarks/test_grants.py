"""The grant scenarios' harness (h, hw; issue 14): their selection, tokens and target, and
their set-up run against a real Kluis (in this process, a few grants, no load)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from benchmarks import grants, growth, run
from benchmarks.dpop import DPoPKey
from benchmarks.scenarios import SCENARIOS, SHARED
from pod.app import create_app
from pod.config import Settings


def test_h_and_hw_are_selectable_and_in_the_default_run() -> None:
    assert run.parse_args(["--scenario", "h,hw", "--quick"]).scenario == ["h", "hw"]
    default = run.parse_args([]).scenario
    assert {"h", "hw"} <= set(default)
    assert default == [*SCENARIOS, *growth.CASES]


def test_h_and_hw_send_the_same_kind_of_request_to_the_same_document() -> None:
    h, hw = SCENARIOS["h"], SCENARIOS["hw"]
    assert (h.method, h.path, h.bare_path, h.headers) == (
        hw.method,
        hw.path,
        hw.bare_path,
        hw.headers,
    )
    assert h.dpop == hw.dpop == "ES256"
    assert h.pinned
    assert hw.pinned
    assert (h.agent, hw.agent) == ("grantee", "member")


def _token(webid: str) -> run.BoundToken:
    return run.BoundToken(DPoPKey("ES256"), "token-of-" + webid, webid)


def test_each_scenario_sends_its_own_agents_token() -> None:
    owner, grantee, member = _token("owner"), _token("grantee"), _token("member")
    prepared = run.Prepared({}, {"ES256": owner}, {"grantee": grantee, "member": member})
    assert prepared.token_for(SCENARIOS["g"]) is owner
    assert prepared.token_for(SCENARIOS["h"]) is grantee
    assert prepared.token_for(SCENARIOS["hw"]) is member
    assert prepared.token_for(SCENARIOS["f"]) is None


def _row(kluis: float, bare: float) -> dict[str, Any]:
    return {"kluis": {"ok_per_second": kluis}, "bare": {"ok_per_second": bare}}


@pytest.mark.parametrize(
    ("granted", "wac", "measured", "met"),
    [
        (950.0, 1000.0, "95% (950 of 1,000 req/s)", True),
        (940.0, 1000.0, "94% (940 of 1,000 req/s)", False),
        (1200.0, 1000.0, "120% (1,200 of 1,000 req/s)", True),
        (500.0, 0.0, "n/a", False),
    ],
)
def test_grant_target_is_h_at_95_percent_of_hw(
    granted: float, wac: float, measured: str, met: bool
) -> None:
    results = {"h": _row(granted, 5000.0), "hw": _row(wac, 4000.0)}
    run.compare_grant(results)
    target = run.grant_target(results)
    assert (target["measured"], target["met"]) == (measured, met)
    assert results["h"]["vs_wac"]["bare"] == 1.25
    assert target in run._targets(results, 32)


def test_no_grant_target_without_both_scenarios() -> None:
    results = {"h": _row(950.0, 5000.0)}
    run.compare_grant(results)
    assert "vs_wac" not in results["h"]
    assert run._targets(results, 32) == []


def test_pkce_challenge_is_rfc_7636_s256() -> None:
    # RFC 7636 Appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert grants.code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize(
    ("header", "modes"),
    [
        ('user="read", public=""', {"read"}),
        ('user="read write append control",public="read"', {"read", "write", "append", "control"}),
        ('public="read"', set()),
        ("", set()),
    ],
)
def test_wac_allow_user_modes(header: str, modes: set[str]) -> None:
    assert grants.wac_allow_user(header) == modes


def test_the_others_grants_never_name_the_benchmarks_app() -> None:
    bodies = [grants.other_grant(n, resource="http://x/alice/shared") for n in range(1, 500)]
    assert all(b["client"] != grants.APP_ID for b in bodies)
    assert len({b["recipient"] for b in bodies}) == len(bodies)
    assert len({b["client"] for b in bodies}) == grants.OTHER_APPS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def kluis(tmp_path: Path) -> AsyncIterator[str]:
    """Kluis as the benchmark runs it (its own identity provider, the benchmark's app among
    its static clients), in this process on a free port; its base URL."""
    port = _free_port()
    settings = Settings(
        host="127.0.0.1",
        port=port,
        storage="memory",
        data_dir=tmp_path,
        access_log=False,
        password_cost=run.PASSWORD_COST,
        static_clients=str(grants.write_static_clients(tmp_path / "clients.json")),
    )
    server = TestServer(create_app(settings), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield settings.base_url
    finally:
        await server.close()


async def test_setup_gives_the_grants_and_lets_each_agent_in_as_intended(kluis: str) -> None:
    async with aiohttp.ClientSession() as session:
        owner = (await run._owner_tokens(session, kluis, {"ES256"}))["ES256"]
        agents, (content_type, body), found = await run._grant_setup(
            session, kluis, owner, count=12
        )
        assert found["count"] == 12
        assert content_type.startswith("text/turtle")
        assert b"Alice Example" in body
        assert agents["grantee"].webid == kluis + "bob/profile/card#me"
        assert agents["member"].webid == kluis + "carol/profile/card#me"
        api = grants.grants_api(kluis, "alice")
        async with session.get(api, headers=run._signed("GET", api, owner)) as r:
            given = (await r.json())["grants"]
        assert len(given) == 12
        mine = [g for g in given if g["recipient"] == agents["grantee"].webid]
        assert [(g["client"], g["resources"]) for g in mine] == [
            (grants.APP_ID, [kluis + SHARED[1:]])
        ]
        assert not [g for g in given if g["recipient"] == agents["member"].webid]
        # Without its grant the grantee is refused: the set-up's 200 came from the grant.
        change = mine[0]["api"]
        headers = run._signed("POST", change, owner)
        async with session.post(change, json={"action": "withdraw"}, headers=headers) as r:
            assert r.status == 200, await r.text()
        url = kluis + SHARED[1:]
        headers = run._signed("GET", url, agents["grantee"])
        async with session.get(url, headers=headers) as r:
            assert r.status == 403

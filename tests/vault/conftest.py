"""The owner signs in through an app of their own here: the vault refuses an app's decisions
about itself (pod.http.vault), and the suite's agents share one client id by default."""

from __future__ import annotations

import pytest

from tests.support import Agent, TestIssuer

OWNER_APP = "https://owner-app.example/id"


@pytest.fixture
def alice(issuer: TestIssuer) -> Agent:
    """The owner of the pod at /pod/, signed in through her own app."""
    owner = Agent(issuer, "alice")
    owner.token = issuer.mint(webid=owner.webid, jkt=owner.jkt, client_id=OWNER_APP)
    return owner

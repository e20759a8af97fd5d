"""The access decision: compare needed modes with granted ones. Independent of HTTP.

`Authorizer` is the seam every operation passes through before it acts. `AllowAll` is what a
server without access control uses; `pod.acl.wac` provides the Web Access Control one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, final

from pod.acl.modes import Needs
from pod.model import AccessMode, Credentials


@final
@dataclass(frozen=True, slots=True)
class Allowed:
    """The modes an agent holds on one resource, and those everyone holds (for WAC-Allow)."""

    user: AccessMode
    public: AccessMode


class Authorizer(Protocol):
    async def authorize(self, *, credentials: Credentials, needs: Needs) -> None:
        """Return if every needed mode is granted; else raise Unauthenticated or Forbidden."""
        ...

    async def allowed(self, *, credentials: Credentials, path: str) -> Allowed:
        """The modes `credentials` and the public hold on `path`."""
        ...


_EVERYTHING = AccessMode.READ | AccessMode.APPEND | AccessMode.WRITE | AccessMode.CONTROL


@final
class AllowAll:
    """Grants everything to everyone: a server with access control switched off."""

    async def authorize(self, *, credentials: Credentials, needs: Needs) -> None:
        return None

    async def allowed(self, *, credentials: Credentials, path: str) -> Allowed:
        return Allowed(_EVERYTHING, _EVERYTHING)

"""Erasure (GDPR Art. 17): a pod, or a whole account with all its pods, taken off the server.

Imports idp, accounts, vault, ldp. An erasure is a job (`pod.accounts.tombstones.Job`) that runs
its steps in order, each idempotent, and records after each how far it got, so a job cut short
(a crash, a restart) resumes where it stopped (`Erasure.resume`, at start-up):

1. the password was checked and the job recorded (`start`);
2. the pods' names are held: from here their URLs and WebIDs answer 410 Gone (`Tombstones`);
3. access ends: page sessions and API tokens (the whole account), client credentials, the
   identity provider's consents, refresh tokens, codes and remembered redirects;
4. every resource of each pod is deleted bottom up through the store (so the change feed
   clears every cache and index), then the emptied storage root (`remove_storage`);
5. each pod's access log is dropped; in other pods' logs, grants and requests the erased
   WebIDs become `urn:kluis:erased:<receipt id>`, and the revocations naming them go;
6. the usage counters, then the pod-name, account and e-mail records are deleted;
7. the receipt is written (counts only) and the job dropped.

The reclaim code is made in `start`, kept only as its SHA-256 (in the holds), and given once:
to the caller of `erase`, or to the page that started the job (`take_code`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final, final

from pod.accounts.passwords import MAX_PASSWORD_LENGTH, verify_password
from pod.accounts.service import Account, AccountService
from pod.accounts.sessions import LoginSessions
from pod.accounts.tombstones import Hold, Job, Receipt, Tombstones, code_hash, new_code
from pod.errors import BadRequest, Conflict, NotFound, Unauthenticated
from pod.idp.provider import Provider
from pod.ldp.quotas import Quotas
from pod.ldp.resources import ResourceStore
from pod.ratelimit import RateLimiter
from pod.vault.disclosures import DisclosureLog
from pod.vault.grants import GrantBook, children_of
from pod.vault.requests import RequestBook

log = logging.getLogger(__name__)

ERASED: Final = "urn:kluis:erased:"
GUESSES: Final = 5  # wrong passwords per account and GUESS_WINDOW
GUESS_WINDOW: Final = 900.0
STEPS: Final = 7  # the steps of a job; `counts["done"]` is the last one finished


def erased_agent(receipt_id: str) -> str:
    """What other owners' records name an erased person by (decision D2 of issue 15)."""
    return ERASED + receipt_id


@final
class Erasure:
    """Starts, runs and resumes erasures (see the module docstring)."""

    def __init__(
        self,
        *,
        accounts: AccountService,
        provider: Provider,
        sessions: LoginSessions,
        store: ResourceStore,
        tombstones: Tombstones,
        quotas: Quotas,
        grants: GrantBook,
        requests: RequestBook,
        disclosures: DisclosureLog | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.accounts = accounts
        self.provider = provider
        self.sessions = sessions
        self.store = store
        self.tombstones = tombstones
        self.quotas = quotas
        self.grants = grants
        self.requests = requests
        self.disclosures = disclosures
        self.clock = clock
        self._tasks: dict[str, asyncio.Task[Receipt]] = {}
        self._codes: dict[str, str] = {}  # job id -> its reclaim code, until shown once
        self._starting: set[str] = set()  # accounts whose erasure is being recorded
        self._guesses = RateLimiter(
            limit=GUESSES, window=GUESS_WINDOW, what="wrong passwords on the erase page"
        )

    # --- starting -----------------------------------------------------------------------------

    async def start(
        self, account: Account, *, password: str | None, pods: Sequence[str] | None = None
    ) -> tuple[Job, str]:
        """Record an erasure of `pods` of `account` (None: the whole account) and hold their
        names; the job and its reclaim code. `password` is checked again (None: the operator
        erases, `kluis admin`). Raises Unauthenticated for a wrong password, NotFound for a pod
        that is not the account's, Conflict while another erasure of the account runs."""
        if password is not None:
            # Counted before the check, as log-ins are (pod.accounts.service.LoginLimiter): a
            # stolen session or API token must not become a way to guess the password.
            self._guesses.take(account.id)
            if not await verify_password(password[:MAX_PASSWORD_LENGTH], account.password_hash):
                raise Unauthenticated("wrong password")
            self._guesses.give_back(account.id)
        if pods is not None:
            if not pods:
                raise BadRequest("name a pod to erase")
            for name in pods:
                if name not in account.pods:
                    raise NotFound(f"this account has no pod {name!r}")
        # One start at a time per account in this process: two forms sent at once make one job.
        if account.id in self._starting:
            raise Conflict("an erasure of this account is under way already")
        self._starting.add(account.id)
        try:
            for running in await self.tombstones.jobs():
                if running.account == account.id:
                    raise Conflict("an erasure of this account is under way already")
            names = tuple(account.pods) if pods is None else tuple(dict.fromkeys(pods))
            by_name = dict(zip(account.pods, account.webids, strict=False))
            code = new_code()
            now = self.clock()
            job = Job(
                id=secrets.token_hex(16),
                account=account.id,
                scope="account" if pods is None else "pod",
                pods=names,
                webids=tuple(by_name[n] for n in names if n in by_name),
                started=now,
                held_until=now + self.tombstones.hold_seconds,
                reclaim=code_hash(code),
                counts={"done": 2},  # recorded, and its names held just below
            )
            await self.tombstones.put_job(job)
            await self._hold(job)
        finally:
            self._starting.discard(account.id)
        log.info("erasure %s of account %s started (%d pod(s))", job.id, account.id, len(names))
        return job, code

    async def erase(
        self, account: Account, *, password: str | None, pods: Sequence[str] | None = None
    ) -> tuple[Receipt, str]:
        """Erase `pods` of `account` (None: the whole account) and wait for it; the receipt and
        the reclaim code. See `start` for what it raises."""
        job, code = await self.start(account, password=password, pods=pods)
        # Shielded: a caller that goes away (a closed connection) leaves the job running.
        return await asyncio.shield(self.run(job)), code

    def run(self, job: Job) -> asyncio.Task[Receipt]:
        """The task running `job` (one per job: asking again gives the same task)."""
        task = self._tasks.get(job.id)
        if task is None:
            task = asyncio.create_task(self._run(job), name=f"kluis-erasure-{job.id}")
            self._tasks[job.id] = task
            task.add_done_callback(lambda _: self._tasks.pop(job.id, None))
        return task

    def begin(self, job: Job, code: str) -> None:
        """Run `job` in the background, keeping its reclaim code for `take_code`."""
        self._codes[job.id] = code
        self.run(job)

    def take_code(self, job_id: str) -> str | None:
        """The reclaim code of a job this process started in the background, once."""
        return self._codes.pop(job_id, None)

    async def resume(self) -> list[asyncio.Task[Receipt]]:
        """Run again every job a previous process left unfinished (at start-up)."""
        jobs = await self.tombstones.jobs()
        for job in jobs:
            log.info("erasure %s resumes after step %d", job.id, job.counts.get("done", 0))
        return [self.run(job) for job in jobs]

    async def close(self) -> None:
        """Stop the jobs under way (at shutdown); the next start resumes them."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def state(self, job_id: str) -> Job | Receipt | None:
        """The job while it runs, then its receipt; None for an unknown id."""
        return await self.tombstones.job(job_id) or await self.tombstones.receipt(job_id)

    # --- the steps ----------------------------------------------------------------------------

    async def _hold(self, job: Job) -> None:
        hold = Hold(job.held_until, job.id, job.reclaim)
        for name in job.pods:
            await self.tombstones.hold(name, hold)

    async def _run(self, job: Job) -> Receipt:
        try:
            return await self._steps(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("erasure %s failed; it resumes at the next start", job.id)
            raise

    async def _steps(self, job: Job) -> Receipt:
        counts = dict(job.counts)
        roots = [f"/{name}/" for name in job.pods]
        whole = job.scope == "account"
        urn = erased_agent(job.id)
        webids = frozenset(job.webids)
        pod_urls = tuple(self.store.url(root) for root in roots)

        def erased(client: str) -> bool:
            return client.startswith(pod_urls)

        async def done(step: int, **more: int) -> None:
            nonlocal job
            for name, n in more.items():
                counts[name] = counts.get(name, 0) + n
            counts["done"] = step
            job = replace(job, counts=dict(counts))
            await self.tombstones.put_job(job)

        await self._hold(job)  # again: this process's frozen pods
        if counts.get("done", 0) < 3:
            records = 0
            if whole:
                records += await self.sessions.end_all(job.account)
            records += await self.accounts.forget_credentials(job.account, webids, whole=whole)
            records += await self.provider.forget_account(job.account, webids, whole=whole)
            await done(3, records=records)
        if counts.get("done", 0) < 4:
            files = size = 0
            for root in roots:
                if await self.store.head(root) is None:
                    continue  # removed before the job stopped
                size += (await self.quotas.usage(root))[0]
                files += await self._empty(root)
                await self.store.remove_storage(root)
            await done(4, files=files, bytes=size, pods=len(roots))
        if counts.get("done", 0) < 5:
            lines = shared = 0
            if self.disclosures is not None:
                for root in roots:
                    self.disclosures.drop(root)
                lines = await self.disclosures.pseudonymise(webids, urn, erased=erased)
            now = self.clock()
            for other in sorted(self.store.storages.roots()):
                shared += await self.grants.pseudonymise(other, webids, urn, erased=erased, now=now)
                shared += await self.requests.pseudonymise(
                    other, webids, urn, erased=erased, now=now
                )
            records = await self.provider.revocations.forget(webids)
            await done(5, log_lines=lines, shared=shared, records=records)
        if counts.get("done", 0) < 6:
            for root in roots:
                await self.quotas.forget(root)
            if whole:
                records = await self.accounts.remove_account(job.account)
            else:
                records = await self.accounts.remove_pods(job.account, job.pods)
            await done(6, records=records)
        receipt = Receipt(
            id=job.id,
            erased_at=self.clock(),
            scope=job.scope,
            pods=counts.get("pods", 0),
            files=counts.get("files", 0),
            bytes=counts.get("bytes", 0),
            records=counts.get("records", 0),
            log_lines=counts.get("log_lines", 0),
            shared=counts.get("shared", 0),
            held_until=job.held_until,
        )
        await self.tombstones.end_job(receipt)
        for root in roots:
            self.tombstones.frozen.discard(root)
        log.info(
            "erasure %s done: %d pod(s), %d files, %d bytes, %d records",
            job.id,
            receipt.pods,
            receipt.files,
            receipt.bytes,
            receipt.records,
        )
        return receipt

    async def _empty(self, root: str) -> int:
        """Delete everything in storage `root`, bottom up, through the store; how many
        resources went (auxiliary ones go with their subject)."""
        deleted = 0

        async def empty(container: str) -> None:
            nonlocal deleted
            for child in await children_of(self.store, container):
                if child.endswith("/"):
                    await empty(child)
                with contextlib.suppress(NotFound):
                    await self.store.delete(child)
                    deleted += 1

        await empty(root)
        return deleted


async def erase(
    erasure: Erasure, account_id: str, pods: Sequence[str] | None = None
) -> tuple[Receipt, str]:
    """Erase `pods` of account `account_id` (None: the whole account) as the operator (no
    password asked), and wait for it: for `kluis admin erase`. Raises NotFound for an unknown
    account."""
    account = await erasure.accounts.get(account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return await erasure.erase(account, password=None, pods=pods)

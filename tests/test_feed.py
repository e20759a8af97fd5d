"""The change feed (pod/feed.py): LocalFeed's listeners and consumers, the actor, the wire form."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pod import feed as feed_module
from pod import logs
from pod.feed import (
    SERVER,
    Actor,
    Change,
    Event,
    LocalFeed,
    RecordChanged,
    ResourceChanged,
    act_as,
    current_actor,
    decode,
    encode,
)
from pod.model import Metadata


def _record(key: str = "k") -> RecordChanged:
    return RecordChanged(Change.UPDATE, "things", key)


def test_listeners_run_before_publish_returns_and_can_unsubscribe() -> None:
    feed, heard = LocalFeed(), list[Event]()
    unsubscribe = feed.subscribe(heard.append)
    event = _record()
    feed.publish(event)
    assert heard == [event]  # no loop needed: heard inside publish
    unsubscribe()
    feed.publish(_record("later"))
    assert heard == [event]


def test_a_failing_listener_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    feed, heard = LocalFeed(), list[Event]()

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    feed.subscribe(broken)
    feed.subscribe(heard.append)
    with caplog.at_level(logging.ERROR, logger="pod.feed"):
        feed.publish(_record())  # does not raise
    assert len(heard) == 1
    assert "listener failed" in caplog.text


async def test_consumers_get_every_event_in_order() -> None:
    feed, got = LocalFeed(), list[str]()

    async def consume(event: Event) -> None:
        await asyncio.sleep(0)  # yield between events: order must hold anyway
        assert isinstance(event, RecordChanged)
        got.append(event.key)

    consumer = feed.consume(consume, name="ordered")
    for i in range(50):
        feed.publish(_record(str(i)))
    await feed.close()
    assert got == [str(i) for i in range(50)]
    assert consumer.missed == 0
    assert consumer.pending == 0


async def test_a_slow_consumer_does_not_slow_publish_or_other_consumers() -> None:
    feed, release = LocalFeed(), asyncio.Event()
    fast = list[Event]()

    async def slow(event: Event) -> None:
        await release.wait()

    async def quick(event: Event) -> None:
        fast.append(event)

    slow_consumer = feed.consume(slow, name="slow")
    feed.consume(quick, name="quick")
    started = time.monotonic()
    for i in range(100):
        feed.publish(_record(str(i)))
    assert time.monotonic() - started < 0.5  # publish only queues
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(fast) == 100  # the quick one is done while the slow one still waits
    assert slow_consumer.pending >= 99
    release.set()
    await feed.close()
    assert slow_consumer.pending == 0


async def test_a_failing_consumer_goes_on_with_the_next_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed, got = LocalFeed(), list[str]()

    async def consume(event: Event) -> None:
        assert isinstance(event, RecordChanged)
        if event.key == "bad":
            raise RuntimeError("consumer bug")
        got.append(event.key)

    feed.consume(consume, name="flaky")
    with caplog.at_level(logging.ERROR, logger="pod.feed"):
        for key in ("a", "bad", "b"):
            feed.publish(_record(key))
        await feed.close()
    assert got == ["a", "b"]
    assert "consumer flaky failed" in caplog.text


async def test_an_overflowing_queue_drops_the_oldest_and_counts_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed, got = LocalFeed(), list[str]()

    async def consume(event: Event) -> None:
        assert isinstance(event, RecordChanged)
        got.append(event.key)

    consumer = feed.consume(consume, name="small", queue=3)
    with caplog.at_level(logging.WARNING, logger="pod.feed"):
        for i in range(10):  # all published before the consumer's task first runs
            feed.publish(_record(str(i)))
    assert consumer.missed == 7
    assert "fell behind" in caplog.text
    await feed.close()
    assert got == ["7", "8", "9"]


async def test_close_lets_consumers_finish_their_queues() -> None:
    feed, done = LocalFeed(), list[str]()

    async def consume(event: Event) -> None:
        await asyncio.sleep(0.01)
        assert isinstance(event, RecordChanged)
        done.append(event.key)

    feed.consume(consume, name="draining")
    for i in range(5):
        feed.publish(_record(str(i)))
    await feed.close()
    assert done == [str(i) for i in range(5)]


async def test_close_gives_up_on_a_consumer_that_never_finishes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feed_module, "DRAIN_SECONDS", 0.05)
    feed = LocalFeed()

    async def stuck(event: Event) -> None:
        await asyncio.Event().wait()

    feed.consume(stuck, name="stuck")
    feed.publish(_record())
    await asyncio.sleep(0)
    async with asyncio.timeout(2):
        await feed.close()


async def test_the_actor_is_the_request_s_or_the_server_s() -> None:
    assert current_actor() is SERVER

    async def in_a_request() -> Actor:
        logs.REQUEST_ID.set("r1")
        act_as("https://alice.example/#me", None)
        return current_actor()

    actor = await asyncio.create_task(in_a_request(), context=contextvars.copy_context())
    assert actor == Actor("https://alice.example/#me", None, "r1")
    assert current_actor() is SERVER  # the request's context stayed its own


async def test_a_consumer_does_not_act_in_the_name_of_the_first_publisher() -> None:
    """A consumer's task was made in the context of the request whose write came first: its log
    lines, and anything it wrote, carried that request's id and agent for good."""
    feed = LocalFeed()
    seen: list[Actor] = []

    async def consume(event: Event) -> None:
        seen.append(current_actor())

    consumer = feed.consume(consume, name="audit")

    async def in_a_request() -> None:
        logs.REQUEST_ID.set("r1")
        act_as("https://alice.example/#me", None)
        feed.publish(_record())

    await asyncio.create_task(in_a_request(), context=contextvars.copy_context())
    feed.publish(_record("later"))
    await feed.close()
    assert consumer.missed == 0
    assert seen == [SERVER, SERVER]


# --- the wire form ------------------------------------------------------------------------------

_text = st.text(max_size=40)
_optional = st.none() | _text
_actors = st.builds(Actor, _optional, _optional, _optional)
_times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
_metadata = st.builds(
    Metadata,
    _text,
    st.booleans(),
    _text,
    _text,
    _times,
    st.integers(min_value=0),
    st.dictionaries(_text, _text, max_size=3),
)
_records = st.builds(RecordChanged, st.sampled_from(Change), _text, _text, _actors, _times)
_resources = st.builds(
    ResourceChanged,
    st.sampled_from(Change),
    _text,
    st.none() | _metadata,
    _optional,
    _actors,
    _times,
)
_events = _records | _resources


@given(_events)
def test_events_round_trip_through_the_wire_form(event: Event) -> None:
    line = encode(event)
    assert "\n" not in line  # one event, one line
    decoded = decode(line)
    assert decoded == event
    if isinstance(event, ResourceChanged) and event.metadata is not None:
        assert isinstance(decoded, ResourceChanged)
        assert decoded.metadata is not None
        assert decoded.metadata.attrs == event.metadata.attrs  # not part of Metadata's ==


@pytest.mark.parametrize(
    "line",
    [
        '{"kind": "other", "change": "Update", "actor": [null, null, null], "published": 1}',
        '{"kind": "record", "change": "Update"}',
        '{"kind": "record", "change": "Sideways", "namespace": "n", "key": "k",'
        ' "actor": [null, null, null], "published": 1}',
        "[1, 2]",
        "not json",
    ],
)
def test_what_is_not_an_event_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match=r"event|Expecting|Sideways"):
        decode(line)

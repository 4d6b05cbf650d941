"""The fault proxy with a real echo server: every toxic, both directions, down and up."""

from __future__ import annotations

import asyncio
import time

import pytest

from transport.server.faultproxy import Proxy, Toxic, ToxicError


@pytest.fixture
async def echo():
    async def serve(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.fixture
async def proxy(echo):
    p = Proxy("echo", "127.0.0.1:0", f"127.0.0.1:{echo}")
    await p.set_enabled(True)
    yield p
    await p.close()


async def connect(p: Proxy):
    return await asyncio.open_connection("127.0.0.1", p.port)


async def roundtrip(reader, writer, data: bytes, timeout: float = 5.0) -> bytes:
    writer.write(data)
    await writer.drain()
    got = b""
    async with asyncio.timeout(timeout):
        while len(got) < len(data):
            chunk = await reader.read(65536)
            if not chunk:
                break
            got += chunk
    return got


def toxic(kind, stream="downstream", toxicity=1.0, **attributes):
    return Toxic.from_json({"type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes})


async def test_clean_proxy_forwards_and_counts(proxy):
    r, w = await connect(proxy)
    assert await roundtrip(r, w, b"hello") == b"hello"
    assert proxy.bytes == {"upstream": 5, "downstream": 5}
    w.close()


@pytest.mark.parametrize("stream", ["upstream", "downstream"])
async def test_latency_delays_each_direction(proxy, stream):
    proxy.add_toxic(toxic("latency", stream, latency=150))
    r, w = await connect(proxy)
    t0 = time.monotonic()
    assert await roundtrip(r, w, b"x") == b"x"
    assert time.monotonic() - t0 >= 0.15  # a lower bound: the delay the toxic promises
    w.close()


async def test_bandwidth_paces_bytes(proxy):
    proxy.add_toxic(toxic("bandwidth", rate=20))  # KB/s
    r, w = await connect(proxy)
    t0 = time.monotonic()
    assert await roundtrip(r, w, b"z" * 10_240) == b"z" * 10_240
    assert time.monotonic() - t0 >= 0.45  # 10 KiB at 20 KB/s
    w.close()


async def test_timeout_zero_holds_a_half_open_connection_until_removed(proxy):
    proxy.add_toxic(toxic("timeout", timeout=0))
    r, w = await connect(proxy)
    w.write(b"lost")
    await w.drain()
    with pytest.raises(TimeoutError):  # nothing comes back: dropped, not delayed
        async with asyncio.timeout(0.3):
            await r.read(10)
    assert not r.at_eof()
    proxy.remove_toxic("timeout_downstream")
    r2, w2 = await connect(proxy)
    assert await roundtrip(r2, w2, b"back") == b"back"
    w.close()
    w2.close()


async def test_timeout_closes_after_its_delay(proxy):
    proxy.add_toxic(toxic("timeout", "upstream", timeout=100))
    r, w = await connect(proxy)
    w.write(b"x")
    await w.drain()
    async with asyncio.timeout(5):
        assert await r.read(10) == b""  # closed, nothing delivered


async def test_reset_peer_resets_the_connection(proxy):
    proxy.add_toxic(toxic("reset_peer", "upstream", timeout=0))
    r, w = await connect(proxy)
    w.write(b"x")
    await w.drain()
    with pytest.raises(ConnectionResetError):
        async with asyncio.timeout(5):
            while await r.read(10):
                pass
            raise AssertionError("closed without a reset")


async def test_limit_data_closes_after_n_bytes(proxy):
    proxy.add_toxic(toxic("limit_data", bytes=10))
    r, w = await connect(proxy)
    w.write(b"0123456789abcdefghij")
    await w.drain()
    got = b""
    async with asyncio.timeout(5):
        while chunk := await r.read(100):
            got += chunk
    assert got == b"0123456789"


async def test_slicer_delivers_everything_in_small_delayed_pieces(proxy):
    proxy.add_toxic(toxic("slicer", average_size=3, size_variation=1, delay=2000))
    r, w = await connect(proxy)
    reads = []
    w.write(b"abcdefghijklmnopqrstuvwxyz")
    await w.drain()
    async with asyncio.timeout(5):
        while sum(map(len, reads)) < 26:
            reads.append(await r.read(100))
    assert b"".join(reads) == b"abcdefghijklmnopqrstuvwxyz" and len(reads) > 1
    w.close()


async def test_slow_close_holds_the_close(proxy, echo):
    proxy.add_toxic(toxic("slow_close", "upstream", delay=300))
    r, w = await connect(proxy)
    t0 = time.monotonic()
    w.write_eof()  # the client closes its side; the proxy passes it on after the delay
    async with asyncio.timeout(5):
        assert await r.read(10) == b""
    assert time.monotonic() - t0 >= 0.3


async def test_toxicity_zero_spares_the_connection(proxy):
    proxy.add_toxic(toxic("timeout", toxicity=0.0, timeout=0))
    r, w = await connect(proxy)
    assert await roundtrip(r, w, b"fine") == b"fine"
    w.close()


async def test_toxics_stack_and_apply_to_live_connections(proxy):
    r, w = await connect(proxy)
    assert await roundtrip(r, w, b"a") == b"a"
    proxy.add_toxic(toxic("latency", latency=100))
    proxy.add_toxic(toxic("latency", "upstream", latency=100))
    t0 = time.monotonic()
    assert await roundtrip(r, w, b"b") == b"b"
    assert time.monotonic() - t0 >= 0.2
    w.close()


async def test_down_refuses_new_connections_and_closes_open_ones_then_comes_back(proxy):
    r, w = await connect(proxy)
    port = proxy.port
    await proxy.set_enabled(False)
    async with asyncio.timeout(5):
        assert await r.read(10) == b""
    with pytest.raises(ConnectionRefusedError):
        await connect(proxy)
    await proxy.set_enabled(True)
    assert proxy.port == port
    r2, w2 = await connect(proxy)
    assert await roundtrip(r2, w2, b"up") == b"up"
    w2.close()


def test_bad_toxics_are_refused_with_a_reason():
    for body, words in (({"type": "nope"}, "unknown toxic"), ({"type": "latency", "stream": "sideways"}, "stream"),
                        ({"type": "latency", "toxicity": 2}, "toxicity"),
                        ({"type": "latency", "attributes": {"rate": 1}}, "no attribute"),
                        ({"type": "latency", "attributes": {"latency": -1}}, "finite number from 0")):
        with pytest.raises(ToxicError, match=words):
            Toxic.from_json(body)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_latency_times_each_chunk_from_its_own_arrival():
    """300 ms ± 0 on chunks that arrive 100 ms apart: each leaves 300 ms after it came, not in ticks."""
    from transport.server.faultproxy import DelaySchedule, forward, latency_of

    clock, schedule, queue, sent = FakeClock(), DelaySchedule(), asyncio.Queue(), []
    lat = toxic("latency", latency=300)
    for arrived, data in [(0.0, b"a"), (0.1, b"b"), (0.2, b"c"), (0.25, b"")]:
        queue.put_nowait((schedule.due(arrived, latency_of(lat)), data))

    async def send(data: bytes) -> bool:
        sent.append((round(clock.now, 3), data))
        return bool(data)

    await forward(queue, send, clock, clock.sleep)
    assert sent == [(0.3, b"a"), (0.4, b"b"), (0.5, b"c"), (0.55, b"")]


def test_jitter_never_reorders_a_stream():
    from transport.server.faultproxy import DelaySchedule, latency_of

    schedule = DelaySchedule()
    lat = toxic("latency", latency=300, jitter=200)
    assert latency_of(lat, draw=lambda lo, hi: hi) == 500 and latency_of(lat, draw=lambda lo, hi: lo) == 100
    first = schedule.due(0.0, 500)  # a slow draw
    second = schedule.due(0.1, 100)  # a fast one right behind it waits for it
    assert (first, second) == (0.5, 0.5)
    assert schedule.due(1.0, 0) == 1.0
    assert latency_of(toxic("latency", latency=50, jitter=200), draw=lambda lo, hi: lo) == 0.0

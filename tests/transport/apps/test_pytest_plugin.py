"""The pytest plugin, as a user meets it: small test files run by pytester in a pytest process of their own
(the plugin found through its ``pytest11`` entry point), in pytest-asyncio's auto and strict modes; passing
and failing ledgers, the failure's message, cleanup after a failure and after Ctrl+C, ``-p no:duplex``."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from typing import Iterator

import pytest

from tests.helpers import FOREIGN_PLUGINS_OFF, read_line

AUTO_INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
STRICT_INI = "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
SESSION_LOOP_INI = ("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = session\n"
                    "asyncio_default_test_loop_scope = session\n")

DROP_AND_RESUME = """
import pytest
{mark}
async def test_drop_and_resume(duplex_lab, duplex_client):
    c = await duplex_client(duplex_lab.ws_url)
    await c.wait_for(messages=5)
    assert await c.drop()
    await c.wait_for(recovered=1, timeout=20)
    await c.wait_for(messages=c.received + 3)
    c.assert_nothing_lost()
    assert c.ledger["lost"] == 0 and c.ledger.episodes == 1 and c.ledger.recovered == 1
    assert any(e.kind == "fault" for e in c.events)  # the Drop is a row of its own
"""

LOSSY = """
import os

async def test_no_resume_through_an_outage(duplex_lab, duplex_proxy, duplex_client):
    with open(os.environ["PIDS"], "w") as f:
        f.write(str(duplex_lab.proc.pid))
    proxy = await duplex_proxy(upstream=duplex_lab.url)
    c = await duplex_client(proxy.url_for(duplex_lab.ws_url), no_resume=True, interval=0.05)
    await c.wait_for(messages=5)
    await proxy.down(0.5)
    await c.wait_for(recovered=1, timeout=20)
    c.assert_nothing_lost()


async def test_a_proxy_that_duplicates_and_drops_messages(duplex_lab, duplex_proxy, duplex_client):
    proxy = await duplex_proxy(upstream=duplex_lab.url)
    await proxy.toxic(type="message", name="dup", attributes={"action": "duplicate", "nth": 3})
    await proxy.toxic(type="message", name="drop", attributes={"action": "drop", "nth": 6})
    c = await duplex_client(proxy.url_for(duplex_lab.ws_url))
    await c.wait_for(messages=12)
    c.assert_nothing_lost()


async def test_the_failed_tests_proxy_is_gone(duplex_lab):
    from transport.clients.lab_admin import admin_call
    status, proxies = await admin_call(duplex_lab.url, duplex_lab.admin_token, "GET", "/proxies")
    assert status == 200 and proxies == {}
"""


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> Iterator[pytest.Pytester]:
    """pytester's folder is not ``tmp_path``: the suite's retention rule does not reach it, so it goes here
    (what a failed run printed is in the report)."""
    yield pytester
    shutil.rmtree(pytester.path, ignore_errors=True)


def run(pytester: pytest.Pytester, *args: str, timeout: float = 90) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *FOREIGN_PLUGINS_OFF, "-W",
                                         "ignore::DeprecationWarning", *args, timeout=timeout)


def gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie that its parent has not reaped counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("mode", ["auto", "strict", "session-loop"])
def test_a_drop_that_resumes_passes_in_both_asyncio_modes(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makeini({"auto": AUTO_INI, "strict": STRICT_INI, "session-loop": SESSION_LOOP_INI}[mode])
    pytester.makepyfile(test_resume=DROP_AND_RESUME.format(mark="@pytest.mark.asyncio" if mode == "strict" else ""))
    result = run(pytester)
    result.assert_outcomes(passed=1)


def test_a_lost_stretch_fails_with_the_seqs_the_episode_the_fault_and_the_rows(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini(AUTO_INI)
    pytester.makepyfile(test_lossy=LOSSY)
    pids = pytester.path / "pids"
    monkeypatch.setenv("PIDS", str(pids))
    result = run(pytester)
    result.assert_outcomes(failed=2, passed=1)
    out = result.stdout.str()
    assert re.search(r"1 lost, 1 duplicated of \d+ messages received, across 0 drop episodes\.", out)
    assert ": on a live connection (no drop)" in out and "arrived more than once: " in out
    assert "toxics in place: toxic message on downstream {'action': 'duplicate', 'nth': 3}" in out
    assert "LossError" in out and " lost, 0 duplicated of " in out, out[-3000:]
    assert "missing seqs: " in out and "across drop episode 1" in out
    assert "(after the fault \"proxy duplex-" in out and "down for 0.5 s" in out and "the reconnect asked GET ws:" in out
    assert "----- seq " in out and " missing here -----" in out  # the rows around the first hole, marked
    assert "duplex ledgers" in out  # the report's own section, with each client's verdict
    assert gone(int(pids.read_text())), "the lab process outlived the failed run"


def test_without_a_sequence_rule_it_fails_and_never_passes(pytester: pytest.Pytester) -> None:
    """A server whose messages carry no number: 'nothing lost' cannot be known, so it is not claimed."""
    pytester.makeini(AUTO_INI)
    pytester.makepyfile(test_plain="""
import asyncio
import websockets

async def test_plain_messages(duplex_client):
    async def talk(ws):
        for i in range(50):
            await ws.send(f"hello {i}")
        await ws.wait_closed()
    async with websockets.serve(talk, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        c = await duplex_client(f"ws://127.0.0.1:{port}/", transport="websocket")
        await c.wait_for(messages=50)
        c.assert_nothing_lost()
""")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no sequence rule: loss cannot be checked (50 messages received)*"])


def test_a_wait_that_runs_out_says_what_came(pytester: pytest.Pytester) -> None:
    pytester.makeini(AUTO_INI)
    pytester.makepyfile(test_wait="""
async def test_too_many(duplex_lab, duplex_client):
    c = await duplex_client(duplex_lab.sse_url, transport="sse")
    await c.wait_for(messages=100_000, timeout=1)
""")
    result = run(pytester, "--duplex-lab-rate", "5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*WaitTimeout: sse http://127.0.0.1:*/sse: waited 1 s for messages=100000; *"
                                 "messages came, highest seq *"])


def test_bad_client_arguments_get_probes_sentence(pytester: pytest.Pytester) -> None:
    pytester.makeini(AUTO_INI)
    pytester.makepyfile(test_bad="""
import pytest

async def test_bad(duplex_client):
    with pytest.raises(ValueError, match="duplex_client: unknown sequence rule 'bogus'"):
        await duplex_client("http://127.0.0.1:9/sse", transport="sse", seq="bogus")
    with pytest.raises(ValueError, match="duplex_client: .*--count"):
        await duplex_client("http://127.0.0.1:9/sse", transport="sse", count=0)
    with pytest.raises(ValueError, match="a real browser"):
        await duplex_client("http://127.0.0.1:9/", transport="browser")
""")
    run(pytester).assert_outcomes(passed=1)


def test_ctrl_c_ends_the_lab_and_the_run(pytester: pytest.Pytester) -> None:
    """Interrupted mid-test: the session still ends every process the plugin started."""
    pytester.makeini(AUTO_INI)
    pytester.makepyfile(test_hang="""
import faulthandler, signal

faulthandler.register(signal.SIGUSR1, all_threads=True)  # where it is, if the outer test must ask

async def test_waits(duplex_lab, duplex_client):
    c = await duplex_client(duplex_lab.ws_url)
    await c.wait_for(messages=2)
    print("READY", duplex_lab.proc.pid, flush=True)
    await c.wait_for(messages=10**9, timeout=600)
""")
    # Ctrl+C as in a terminal: a process started in the background (`cmd &`, some CI runners) inherits
    # SIGINT ignored, and Python then never turns it into KeyboardInterrupt
    start = ("import signal, sys, pytest\n"
             "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
             f"sys.exit(pytest.main(['-s', '-q', '-p', 'no:cacheprovider', *{list(FOREIGN_PLUGINS_OFF)!r}]))\n")
    proc = subprocess.Popen([sys.executable, "-u", "-c", start], cwd=pytester.path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        line = b""
        while not line.startswith(b"READY"):  # bounded: read_line fails after its timeout
            line = read_line(proc.stdout, 60).strip()
        lab_pid = int(line.split()[1])
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # its threads' stacks, then the last state in the failure
            try:
                proc.communicate(timeout=5)  # the dump (it does not end by itself)
            except subprocess.TimeoutExpired:
                pass
            proc.kill()
            out, _ = proc.communicate(timeout=10)
            raise AssertionError(f"pytest did not end 60 s after Ctrl+C; it said:\n{out.decode(errors='replace')[-6000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert b"KeyboardInterrupt" in out, out[-2000:]
    assert gone(lab_pid), "the lab process outlived the interrupted run"


def test_p_no_duplex_turns_the_plugin_off(pytester: pytest.Pytester) -> None:
    pytester.makeini(AUTO_INI)
    pytester.makepyfile(test_off="async def test_off(duplex_lab):\n    pass\n")
    result = run(pytester, "-p", "no:duplex")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'duplex_lab' not found*"])

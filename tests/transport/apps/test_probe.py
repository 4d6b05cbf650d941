"""``python main.py probe``: JSON lines, exit codes, no Qt."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT, free_port

PROBE_NO_QT = ("import sys, main\n"
               "code = main.main(sys.argv[1:])\n"
               "assert not [m for m in sys.modules if m.startswith(('PySide6', 'qasync'))], 'Qt imported'\n"
               "sys.exit(code)\n")


def probe(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROBE_NO_QT, "probe", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def output(res: subprocess.CompletedProcess) -> tuple[list[dict], dict]:
    """The event lines, and the ledger line that comes last."""
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert lines and set(lines[-1]) == {"ledger"}, res.stdout[-500:]
    return lines[:-1], lines[-1]["ledger"]


def test_prints_event_lines_and_exits_0_after_count(lab):
    res = probe(lab.ws_url, "--transport", "ws", "--count", "5", "--timeout", "20",
                "--header", "X-Probe: yes")
    assert res.returncode == 0, res.stderr
    events, ledger = output(res)
    assert ledger["received"] >= 5 and ledger["lost"] == 0 and ledger["rule"] == "lab" and ledger["ok"]
    assert {"received", "lost", "duplicated", "replayed", "reordered", "episodes", "recovered", "verdict"} <= set(ledger)
    assert {"t", "transport", "conn", "direction", "kind", "seq", "size", "wire", "latency_ms",
            "data", "meta"} <= set(events[0])
    ins = [e for e in events if e["direction"] == "in"]
    assert len(ins) == 5
    seqs = [e["seq"] for e in ins]
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    assert events[0]["kind"] == "open" and events[0]["meta"]["request_headers"]["X-Probe"] == "yes"


def test_exits_1_with_one_line_when_the_connection_fails_for_good():
    port = free_port()
    res = probe(f"ws://127.0.0.1:{port}/ws", "--retries", "2", "--interval", "0.05", "--timeout", "20")
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0
    assert "Connection refused" in res.stderr


def test_exits_1_when_the_timeout_passes(lab):
    res = probe(lab.ws_url, "--count", "100000", "--timeout", "1")
    assert res.returncode == 1 and "timeout: 1 s passed" in res.stderr
    assert output(res)[1]["verdict"]  # the ledger line comes on every exit that ran a client


def test_exits_2_on_bad_arguments():
    assert probe("http://not-ws", "--transport", "ws", "--count", "1").returncode == 2
    assert probe("ws://127.0.0.1:1/", "--transport", "sse").returncode == 2
    assert probe("ws://127.0.0.1:1/", "--header", "no colon").returncode == 2
    assert probe("ws://127.0.0.1:1/", "--transport", "carrier-pigeon").returncode == 2
    bad_rule = probe("ws://127.0.0.1:1/", "--resume", "last-event-id")
    assert bad_rule.returncode == 2 and "how an SSE client resumes" in bad_rule.stderr
    assert probe("ws://127.0.0.1:1/", "--seq", "re:(").returncode == 2


def test_sse_prints_dispatched_events_with_type_and_last_event_id(lab):
    res = probe(lab.url + "/sse", "--transport", "sse", "--count", "6", "--timeout", "20",
                "--header", "Authorization: Bearer x")
    assert res.returncode == 0, res.stderr
    events, _ledger = output(res)
    assert all(e["transport"] == "sse" for e in events)
    msgs = [e for e in events if e["kind"] == "message"]
    assert len(msgs) == 6
    assert {m["meta"]["type"] for m in msgs} == {"price", "likes", "message"}  # named and unnamed
    assert all(m["meta"]["last_event_id"] == str(m["seq"]) for m in msgs)
    request = next(e for e in events if e["kind"] == "request")
    assert request["meta"]["headers"]["Authorization"] == "Bearer x"
    response = next(e for e in events if e["kind"] == "response")
    assert response["meta"]["status"] == 200 and response["wire"] > 0


def test_sse_transport_is_inferred_from_an_http_url_and_failure_is_one_line():
    port = free_port()
    res = probe(f"http://127.0.0.1:{port}/sse", "--retries", "2", "--retry", "10", "--timeout", "20")
    assert res.returncode == 1 and res.stderr.strip().count("\n") == 0
    assert "Connection refused" in res.stderr
    assert json.loads(res.stdout.splitlines()[0])["transport"] == "sse"


def test_polling_transports_print_request_response_pairs_with_wire_and_status(lab):
    for transport, path in (("short_poll", "/api/poll"), ("long_poll", "/api/longpoll"), ("stream", "/api/stream")):
        res = probe(lab.url + path, "--transport", transport, "--count", "4", "--timeout", "20",
                    "--poll-interval", "0.1")
        assert res.returncode == 0, (transport, res.stderr)
        events, _ledger = output(res)
        assert all(e["transport"] == transport for e in events)
        requests = [e for e in events if e["kind"] == "request"]
        responses = [e for e in events if e["kind"] == "response"]
        assert requests and responses and requests[0]["direction"] == "out"
        assert all(r["meta"]["status"] == 200 and r["wire"] > 0 for r in responses)
        msgs = [e for e in events if e["kind"] == "message"]
        seqs = [m["seq"] for m in msgs]
        assert len(msgs) >= 4 and seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # a poll may carry more


def test_browser_without_chromium_is_one_sentence(monkeypatch):
    monkeypatch.setenv("DUPLEX_CHROMIUM", "/nonexistent/chromium")
    res = probe("http://127.0.0.1:9/demo", "--transport", "browser", "--count", "1", "--timeout", "5")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith("probe: No Chromium found") and res.stderr.count("\n") == 1


def test_browser_needs_a_page_address():
    res = probe("ws://127.0.0.1:9/ws", "--transport", "browser")
    assert res.returncode == 2 and "opens a page" in res.stderr


def test_a_reader_that_goes_away_ends_the_probe_quietly(lab):
    """``probe … | head -1``: the pipe closes; the probe stops with 141, as command-line tools do, and no
    traceback."""
    proc = subprocess.Popen([sys.executable, "main.py", "probe", lab.ws_url, "--transport", "ws", "--count",
                             "200", "--timeout", "30"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline()
    proc.stdout.close()
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 141 and b"Traceback" not in err and b"Exception ignored" not in err


@pytest.mark.parametrize("argv, said", [
    (["ws://127.0.0.1:0/"], "port 0 is not a port a server listens on"),
    (["--transport", "browser", "http://127.0.0.1:99999/"], "the port is not a number from 1 to 65535"),
    (["--transport", "browser", "http://[::1"], "it cannot be parsed"),
    (["--poll-interval", "nan", "http://127.0.0.1:1/"], "--poll-interval must be a finite number"),
    (["--interval", "nan", "ws://127.0.0.1:1/"], "--interval must be a finite number"),
    (["--timeout", "nan", "ws://127.0.0.1:1/"], "--timeout must be a finite number"),
])
def test_a_bad_argument_is_one_sentence_and_exit_2_never_a_traceback(argv, said, capsys):
    from transport.apps.probe import parse_args

    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, said", [
    (["http://[::1"], "it cannot be parsed"),
    (["--duration", "nan", "http://127.0.0.1:1/"], "--duration must be a finite number"),
    (["--spawn-rate", "nan", "http://127.0.0.1:1/"], "--spawn-rate must be a finite number"),
])
def test_a_bad_storm_argument_is_one_sentence_and_exit_2(argv, said, capsys):
    from transport.loadtest.cli import parse_args

    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and said in err and len(err.strip().splitlines()) == 1


def test_a_close_reason_with_format_characters_never_reaches_the_terminal_raw():
    from transport.core.errors import one_line

    assert one_line("bye \u202eevil\u200b\x1b[2J") == "bye \\u202eevil\\u200b\\x1b[2J"


def test_junit_xml_writes_one_passing_case_with_the_ledger(lab, tmp_path):
    import xml.etree.ElementTree as ET
    path = tmp_path / "probe.xml"
    res = probe(lab.ws_url, "--count", "5", "--timeout", "20", "--junit-xml", str(path))
    assert res.returncode == 0, res.stderr
    suite = ET.parse(path).getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "1" and suite.get("failures") == "0"
    case = suite.find("testcase")
    assert case is not None and case.get("name") == f"ws {lab.ws_url}" and case.find("failure") is None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["ledger.lost"] == "0" and int(props["ledger.received"]) >= 5


def test_junit_xml_fails_the_case_with_the_probes_reason(lab, tmp_path):
    import xml.etree.ElementTree as ET
    path = tmp_path / "probe.xml"
    res = probe(lab.ws_url, "--count", "100000", "--timeout", "1", "--junit-xml", str(path))
    assert res.returncode == 1
    failure = ET.parse(path).getroot().find("testcase/failure")
    assert failure is not None and failure.get("message", "").startswith("timeout: 1 s passed with ")


def test_junit_xml_fails_a_lossy_run_with_the_verdict_and_the_report(tmp_path):
    """write_junit alone: a ledger that counts loss fails the case whatever the exit code."""
    import xml.etree.ElementTree as ET

    from transport.apps.junit import write_junit
    path = tmp_path / "loss.xml"
    ledger = {"received": 9, "lost": 3, "duplicated": 0, "verdict": "3 lost, 0 duplicated; lost seq 4, 5, 6"}
    write_junit(str(path), name="sse http://h/", seconds=1.5, code=0, reason="", ledger=ledger,
                report="sse http://h/: 3 lost …")
    failure = ET.parse(path).getroot().find("testcase/failure")
    assert failure is not None and failure.get("message") == ledger["verdict"] and failure.get("type") == "loss"
    assert failure.text == "sse http://h/: 3 lost …"

"""``python main.py probe URL [--transport ws|sse|short_poll|long_poll|stream]``: the client stack, headless.

Prints one JSON line per event on stdout, and last ``{"ledger": {...}}``: what the loss ledger proves
(received, lost, duplicated, replayed, reordered, episodes, recovered, verdict). Exits 0 after ``--count``
incoming messages (``kind`` ``message``: WebSocket messages, dispatched SSE events, Socket.IO events), 1
with a one-line reason on stderr when the connection fails for good or ``--timeout`` passes, 2 on bad
arguments, 3 with ``--fail-on-loss`` when the ledger counts a message lost or duplicated; ``--junit-xml PATH``
writes the run as one JUnit test case (failed with the ledger's verdict as its message). ``--seq`` and
``--resume`` say how a server that is not the lab numbers its messages and resumes
(transport/core/sequence.py). It never imports Qt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import logging
import math
import sys
import time
from collections import deque
from typing import Callable, NoReturn, TextIO

from transport.core.backoff import Policy
from transport.clients.base import Client
from transport.clients.sse import DEFAULT_RETRY_MS
from transport.clients.tls import ca_problem
from transport.core.errors import InvalidURL
from transport.core.events import Event, EventSink, now_ns
from transport.core.loss_report import loss_report
from transport.apps.junit import write_junit
from transport.clients.registry import PROBE_NAMES, by_probe_name
from transport.core.sequence import RuleError, parse_resume, parse_seq
from transport.core.urls import split_url

JUNIT_ROWS = 5_000  # the newest rows a --junit-xml failure's report can show
TRANSPORTS = (*PROBE_NAMES, "browser")  # browser: a page in headless Chromium (browser_probe.py)


class ArgsError(ValueError):
    """Arguments that do not make a probe: the one sentence that says why."""


class _Args(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ArgsError(message)


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c in name for c in " \t\r\n"):
        raise argparse.ArgumentTypeError(f"header must look like 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The probe's arguments; bad ones: one line on stderr, exit 2."""
    try:
        return check_args(argv)
    except ArgsError as exc:
        print(f"probe: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def check_args(argv: list[str]) -> argparse.Namespace:
    """The probe's arguments, or :class:`ArgsError` with the sentence (the pytest plugin's clients take the
    same ones, with the same defaults and checks)."""
    p = _Args(prog="duplex probe", description="Watch a real-time endpoint headless; one JSON line per event.")
    p.add_argument("url")
    p.add_argument("--transport", choices=TRANSPORTS, default=None,
                   help="default: ws for ws(s):// URLs, sse for http(s):// URLs")
    p.add_argument("--count", type=int, default=None, help="exit 0 after this many incoming messages")
    p.add_argument("--timeout", type=float, default=None, help="exit 1 if not done after this many seconds")
    p.add_argument("--header", action="append", type=parse_header, default=[], metavar="'K: V'")
    p.add_argument("--subprotocol", action="append", default=[])
    p.add_argument("--policy", choices=("fixed", "exponential"), default=None,
                   help="reconnect policy (default: exponential for ws; the server's retry for sse)")
    p.add_argument("--interval", type=float, default=0.5, help="reconnect delay (initial, for exponential)")
    p.add_argument("--max-delay", type=float, default=5.0)
    p.add_argument("--retries", type=int, default=None, help="give up after this many failed attempts in a row")
    p.add_argument("--no-resume", action="store_true", help="the lab: do not reconnect with ?after=<last seq>")
    p.add_argument("--seq", default="auto", metavar="SPEC",
                   help="a server that is not the lab: how its messages are numbered: none, id (SSE event id), "
                        "a JSON pointer like /seq (Socket.IO: of the first argument), or re:PATTERN "
                        "(default: SSE's integer event ids; none elsewhere)")
    p.add_argument("--resume", default="auto", metavar="SPEC",
                   help="a server that is not the lab: how a reconnect resumes: none, last-event-id (SSE, the "
                        "default there), query:NAME (NAME=<last seq> in the URL), message:TEMPLATE ({seq} "
                        "replaced; WebSocket, or 'EVENT JSON-ARGS' for Socket.IO)")
    p.add_argument("--fail-on-loss", action="store_true",
                   help="exit 3 when the ledger counts a message lost or duplicated")
    p.add_argument("--junit-xml", default=None, metavar="PATH",
                   help="write one JUnit test case for this run: failed when the probe failed or the ledger "
                        "counts a message lost or duplicated (its verdict is the failure's message)")
    p.add_argument("--open-timeout", type=float, default=10.0)
    p.add_argument("--max-size", type=int, default=16 << 20, help="largest message or event, bytes")
    p.add_argument("--retry", type=int, default=DEFAULT_RETRY_MS, metavar="MS",
                   help="sse: reconnection time until the server sends retry:")
    p.add_argument("--poll-interval", type=float, default=1.0, metavar="S",
                   help="short_poll: seconds between the starts of two polls")
    p.add_argument("--conditional", action="store_true",
                   help="short_poll: ask again with If-None-Match (the last answer's ETag); a 304 is a row of its own")
    p.add_argument("--hold", type=float, default=25.0, metavar="S",
                   help="long_poll: how long the server may hold a request (?timeout=)")
    p.add_argument("--idle-timeout", type=float, default=None, metavar="S",
                   help="sse: treat a stream silent this long as dropped")
    p.add_argument("--namespace", default="/", help="socketio: the namespace to connect to")
    p.add_argument("--sio-transport", choices=("upgrade", "polling", "websocket"), default="upgrade",
                   help="socketio: polling then WebSocket (as Socket.IO clients do), polling only, WebSocket only")
    p.add_argument("--method", choices=("GET", "POST"), default="GET",
                   help="sse: POST sends --data and reads the answer's stream (LLM APIs, MCP); exit 0 when it ends")
    p.add_argument("--data", default=None, metavar="BODY", help="sse: the POST body")
    p.add_argument("--content-type", default="application/json", help="sse: the POST body's Content-Type")
    p.add_argument("--ca", default=None, metavar="FILE",
                   help="https/wss: trust this certificate authority (PEM) and nothing else (the TLS lab's: tls.ca)")
    p.add_argument("--insecure", action="store_true",
                   help="https/wss: do not verify the certificate (every event says \"insecure\": true)")
    p.add_argument("--experiment", choices=("streams",), default=None,
                   help="browser: 'streams' opens --streams N streams from one page the lab serves and prints when "
                        "each opened, on which connection and protocol, then {\"experiment\": …}")
    p.add_argument("--streams", type=int, default=10, metavar="N", help="--experiment streams: how many (1-200)")
    p.add_argument("--stream-kind", choices=("sse", "fetch"), default="sse",
                   help="--experiment streams: EventSources (default) or fetch streams")
    p.add_argument("--attach", default=None, metavar="HOST:PORT",
                   help="browser: watch a Chrome started with --remote-debugging-port instead of starting one")
    args = p.parse_args(argv)
    for name in ("timeout", "interval", "max_delay", "open_timeout", "poll_interval", "hold", "idle_timeout"):
        value = getattr(args, name)
        if value is not None and not math.isfinite(value):
            p.error(f"--{name.replace('_', '-')} must be a finite number of seconds, not {value}")
    if args.ca is not None and args.insecure:
        p.error("--ca verifies against a CA and --insecure verifies nothing: give one of them")
    if args.ca is not None:
        problem = ca_problem(args.ca)
        if problem is not None:
            p.error(problem)
    if args.count is not None and args.count < 1:
        p.error("--count must be >= 1")
    if args.timeout is not None and args.timeout <= 0:
        p.error("--timeout must be > 0")
    if args.poll_interval <= 0 or args.hold < 0:
        p.error("--poll-interval must be > 0 and --hold >= 0")
    if args.retry < 0 or (args.idle_timeout is not None and args.idle_timeout <= 0):
        p.error("--retry must be >= 0 and --idle-timeout > 0")
    if args.interval < 0 or args.max_delay < args.interval:
        p.error("need 0 <= --interval <= --max-delay")
    if args.transport is None:
        try:
            scheme = split_url(args.url)[0].scheme.lower()
        except ValueError as exc:
            p.error(str(exc))
        args.transport = "sse" if scheme in ("http", "https") else "ws"
    if args.retries is not None and args.retries < 1:
        p.error("--retries must be >= 1")
    if args.conditional and args.transport != "short_poll":
        p.error("--conditional revalidates a short poll's answer: use it with --transport short_poll")
    if args.method != "GET" and args.transport != "sse":
        p.error("--method POST streams an answer over SSE: use it with --transport sse")
    if args.data is not None and args.method == "GET":
        p.error("--data is a POST's body: add --method POST")
    if args.transport != "browser":
        try:
            parse_seq(args.seq)
            parse_resume(args.resume, PROBE_NAMES.get(args.transport, args.transport))
        except RuleError as exc:
            p.error(str(exc))
    if args.transport == "browser":
        try:
            scheme = split_url(args.url)[0].scheme.lower()
            if args.attach:
                split_url("http://" + args.attach)
        except ValueError as exc:
            p.error(str(exc))
        if scheme not in ("http", "https", "file"):
            p.error("--transport browser opens a page: an http(s):// URL")
        if args.experiment and (args.attach or scheme == "file"):
            p.error("--experiment streams runs in a Chromium of its own, on a lab's http(s):// URL (not --attach)")
        if not 1 <= args.streams <= 200:
            p.error("--streams takes 1 to 200")
        return args
    if args.experiment:
        p.error("--experiment runs in a real browser: add --transport browser")
    try:
        by_probe_name(args.transport).validate(args.url)
    except InvalidURL as exc:
        p.error(str(exc))
    return args


async def probe(args: argparse.Namespace, out: TextIO = sys.stdout) -> tuple[int, str]:
    done = asyncio.Event()
    received = 0
    junit = getattr(args, "junit_xml", None)
    rows: deque[Event] = deque(maxlen=JUNIT_ROWS)  # what a JUnit failure's report shows
    started_ns, started = now_ns(), time.monotonic()
    seen = 0  # rows seen (those beyond JUNIT_ROWS went)

    def sink(event: Event) -> None:
        nonlocal received, seen
        out.write(event.to_json() + "\n")
        if junit:
            rows.append(event)
            seen += 1
        if event.direction == "in" and event.kind == "message":
            received += 1
            if args.count is not None and received >= args.count:
                done.set()

    client = make_client(args, sink)
    code, reason = await _watch(client, args, done, lambda: received)
    ledger = client.ledger.counts()
    out.write(json.dumps({"ledger": ledger}, separators=(",", ":")) + "\n")
    out.flush()
    if getattr(args, "fail_on_loss", False) and (ledger["lost"] or ledger["duplicated"]):
        loss = f"the ledger counts {ledger['lost']} lost and {ledger['duplicated']} duplicated: {ledger['verdict']}"
        code, reason = 3, loss + (f" ({reason})" if reason else "")
    if junit:
        report = loss_report(list(rows), client.ledger.to_json(), started_ns=started_ns,
                             what=f"{args.transport} {args.url}", evicted=seen - len(rows))
        write_junit(junit, name=f"{args.transport} {args.url}", seconds=time.monotonic() - started, code=code,
                    reason=reason, ledger=ledger, report=report)
    return code, reason


async def _watch(client: Client, args: argparse.Namespace, done: asyncio.Event,
                 received: Callable[[], int]) -> tuple[int, str]:
    """Run ``client`` until ``--count``, its end or ``--timeout``: the exit code and the reason."""
    run = asyncio.create_task(client.run())
    finished = asyncio.create_task(done.wait())
    await asyncio.wait({run, finished}, timeout=args.timeout, return_when=asyncio.FIRST_COMPLETED)
    if done.is_set():
        await client.close()
        await asyncio.wait({run}, timeout=5)
        return 0, ""
    finished.cancel()
    if run.done():
        err = run.result()
        if err is None and getattr(args, "method", "GET") != "GET":
            return 0, ""  # a POST's stream ended normally ([DONE], or the end of the body): done
        return 1, err.sentence if err is not None else "the connection closed"
    await client.close()
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    got = f"{received()} of {args.count}" if args.count else str(received())
    reason = f"timeout: {args.timeout:g} s passed with {got} messages received"
    if client.last_error is not None:
        reason += f"; last error: {client.last_error.sentence}"
    return 1, reason


def make_client(args: argparse.Namespace, sink: EventSink) -> Client:
    """The transport's client, through the registry, with what the arguments say."""
    info = by_probe_name(args.transport)
    policy = None
    if args.policy is not None or not info.server_retry:
        name = args.policy or "exponential"
        interval = max(args.interval, 0.001) if name == "exponential" else args.interval
        policy = Policy(name, interval, args.max_delay)
    return info.make(args.url, sink, headers=args.header, subprotocols=args.subprotocol, policy=policy,
                     resume=not args.no_resume, open_timeout=args.open_timeout, max_size=args.max_size,
                     max_body=args.max_size, max_event_size=args.max_size, max_failures=args.retries,
                     default_retry_ms=args.retry, idle_timeout=args.idle_timeout, interval=args.poll_interval,
                     hold=args.hold, method=args.method, body=args.data, content_type=args.content_type,
                     namespace=args.namespace, transports=args.sio_transport,
                     seq_rule=getattr(args, "seq", "auto"), resume_rule=getattr(args, "resume", "auto"),
                     verify_tls=not getattr(args, "insecure", False), ca_file=getattr(args, "ca", None),
                     conditional=getattr(args, "conditional", False))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # events go to stdout as JSON; stderr carries only the final one-line reason
    logging.getLogger("duplex").addHandler(logging.NullHandler())
    logging.getLogger("duplex").propagate = False
    started = time.monotonic()
    try:
        if args.transport == "browser" and args.experiment:
            from transport.browser.probe import probe_streams
            code, reason = asyncio.run(probe_streams(args))
        elif args.transport == "browser":
            from transport.browser.probe import probe_browser
            code, reason = asyncio.run(probe_browser(args))
        else:
            code, reason = asyncio.run(probe(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as command-line tools do
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the interpreter flushes stdout at exit)
        except OSError:
            pass
        return 141
    if args.transport == "browser" and args.junit_xml:
        write_junit(args.junit_xml, name=f"browser {args.url}", seconds=time.monotonic() - started, code=code,
                    reason=reason, ledger=None, report=None)
    if reason:
        print(f"probe: {reason}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

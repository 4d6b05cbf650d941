"""What the fault panel does: route a tab through a lab fault proxy, apply faults, mark them.

Network faults act on the tab's own proxy (``tab-<transport>`` in the lab,
in front of the server of the tab's URL); server faults act on the lab and
are marked in every tab. A fault lasts its duration (0: until Stop) and can
repeat on a schedule; Stop (or closing the tab) undoes what is running.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from transport.errors import DuplexError
from transport.lab_admin import admin_call, post_fault

if TYPE_CHECKING:
    from .transport_tab import TransportTab


def host_port(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"{host}:{port}"


_numbers = itertools.count(1)


class FaultControl:
    def __init__(self, tab: "TransportTab") -> None:
        self.tab = tab
        self.listen: str | None = None  # the proxy's address while the tab is routed through it
        self.tasks: set[asyncio.Task] = set()  # faults running now: they stack, Stop ends them all

    @property
    def name(self) -> str:
        return f"tab-{self.tab.transport}"

    def target(self, url: str) -> str:
        """``url`` as the client uses it: through the proxy when routed."""
        if not self.listen or not url:
            return url
        return urlunsplit(urlsplit(url)._replace(netloc=self.listen))

    async def _call(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        tab = self.tab
        if not tab.lab_url:
            raise DuplexError("The lab server is not running: it hosts the fault proxies.")
        return await admin_call(tab.lab_url, tab.lab_token, method, path, body)

    async def route(self, on: bool) -> None:
        if on:
            url = self.tab.bar.url_text()
            if not url:
                raise DuplexError("Enter the tab's URL first: the proxy goes in front of its server.")
            await self._call("DELETE", f"/proxies/{self.name}")  # a stale one, from an earlier route
            status, answer = await self._call("POST", "/proxies", {"name": self.name, "upstream": host_port(url)})
            if status != 201 or not isinstance(answer, dict):
                raise DuplexError(f"The lab could not make a fault proxy: {answer}")
            self.listen = answer["listen"]
            self.tab.faults.route_info.setText(f"routed: {self.listen} → {host_port(url)}")
        else:
            await self.stop()
            await self._call("DELETE", f"/proxies/{self.name}")
            self.listen = None
            self.tab.faults.route_info.setText("not routed: network faults need the proxy")
        self.tab.reopen()

    def start(self, spec: dict) -> None:
        """Run a fault beside those already running (toxics stack, as in Toxiproxy)."""
        task = self.tab.spawn(self._run(spec))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        tasks, self.tasks = list(self.tasks), set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # each removes its toxic as it ends
        self.tab.faults.state.setText("no fault running")

    async def _run(self, spec: dict) -> None:
        if spec["kind"] == "proxy" and not self.listen:
            raise DuplexError("Route this tab through a fault proxy first (tick the box above).")
        def say(text: str) -> None:
            n = len(self.tasks)
            self.tab.faults.state.setText(text + (f" · {n} faults running" if n > 1 else ""))

        await repeat(spec, self.apply_once, say)

    async def restore(self) -> None:
        """A new lab process (after a kill) has none of the old one's proxies: make this tab's again,
        at the same address, so the tab's connections find it."""
        if not self.listen:
            return
        upstream = host_port(self.tab.bar.url_text())
        status, answer = await self._call("POST", "/proxies", {"name": self.name, "upstream": upstream,
                                                                "listen": self.listen})
        if status != 201:
            self.listen = None
            faults = self.tab.faults
            faults.route.blockSignals(True)
            faults.route.setChecked(False)
            faults.route.blockSignals(False)
            faults.route_info.setText("not routed: the new lab process could not make the proxy again")
            self.tab.reopen()
            raise DuplexError(f"The fault proxy could not be made again in the new lab process: {answer}")
        self.tab.state_row("fault", f"fault proxy on {self.listen} made again in the new lab process")

    async def apply_once(self, spec: dict) -> None:
        """Apply the fault once, for its duration (0: until Stop), marking when it starts and ends."""
        duration = spec["duration"]
        if spec["kind"] == "server":
            text = await server_fault(self.tab.lab_url, self.tab.lab_token, spec)
            self.tab.faultMarker.emit(text, True)
            return
        if spec["kind"] == "process":  # the window owns the lab process; it marks every tab
            self.tab.killRequested.emit(duration, spec["keep_history"])
            return
        await proxy_fault(self._call, self.name, spec, lambda text: self.tab.faultMarker.emit(text, False))



async def proxy_fault(call, proxy: str, spec: dict, mark) -> None:
    """A network fault on the lab's proxy ``proxy`` for its duration (0: until cancelled): ``down``, or a
    toxic (the same fault twice stacks). ``call(method, path, body)`` is the admin API; ``mark(text)``
    says when it starts and ends."""
    fault, duration = spec["fault"], spec["duration"]
    if fault == "down":
        await call("POST", f"/proxies/{proxy}", {"enabled": False})
        mark(f"proxy down for {duration:g} s" if duration else "proxy down")
        try:
            await _hold(duration)
        finally:
            await call("POST", f"/proxies/{proxy}", {"enabled": True})
            mark("proxy up again")
        return
    name = f"panel_{fault}_{spec['stream']}_{next(_numbers)}"
    attributes = {spec["attribute"]: spec["value"]} if spec["attribute"] else {}
    if spec.get("jitter"):
        attributes["jitter"] = spec["jitter"]
    toxic = {"name": name, "type": fault, "stream": spec["stream"], "toxicity": spec["toxicity"],
             "attributes": attributes}
    status, answer = await call("POST", f"/proxies/{proxy}/toxics", toxic)
    if status >= 300:
        raise DuplexError(f"The lab refused the fault: {answer}")
    jitter = f" ± {spec['jitter']}" if spec.get("jitter") else ""
    mark(f"{fault} {spec['stream']} {spec['value']}{jitter} (toxicity {spec['toxicity']:g})"
         + (f" for {duration:g} s" if duration else ""))
    try:
        await _hold(duration)
    finally:
        await call("DELETE", f"/proxies/{proxy}/toxics/{name}")
        mark(f"{fault} removed")


async def _hold(duration: float) -> None:
    """A fault's duration (0: until it is cancelled)."""
    if duration > 0:
        await asyncio.sleep(duration)
    else:
        await asyncio.Event().wait()


async def server_fault(lab_url: str, token: str, spec: dict) -> str:
    """Apply a server fault of the lab (``POST /_admin/faults``); returns the marker's text."""
    fault, duration = spec["fault"], spec["duration"]
    body: dict = {"action": fault}
    if fault == "restart":
        body["down_s"] = duration
    elif fault == "close_websockets":
        body["code"] = spec["value"]
    if not lab_url:
        raise DuplexError("The lab server is not running.")
    answer = await post_fault(lab_url, token, body)
    said = {"restart": f" ({duration:g} s down)", "close_websockets": f" (code {spec['value']})"}.get(fault, "")
    counts = ", ".join(f"{k} {v}" for k, v in answer.items() if k in ("closed", "ended", "evicted", "expired"))
    return f"server fault: {fault}{said}" + (f": {counts}" if counts else "")


async def repeat(spec: dict, once, say) -> int:
    """Apply a fault (``await once(spec)``) once, or at 0, every, 2·every… seconds while that is within
    ``spec['span']`` ("every 5 s for 60 s": 12 times); ``say`` gets the progress. Returns the count."""
    every, span = spec["every"], spec["span"]
    start = time.monotonic()
    n = 0
    while True:
        n += 1
        say(f"running {spec['fault']} (#{n})")
        await once(spec)
        if every <= 0 or n * every >= span:
            break
        await asyncio.sleep(max(0.0, start + n * every - time.monotonic()))  # the schedule itself
    say(f"done: {spec['fault']} applied {n} time(s)")
    return n

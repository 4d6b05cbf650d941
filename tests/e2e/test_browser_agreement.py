"""Virtual against real: the table is computed from a run on each browser, never written down."""

from __future__ import annotations

import pytest

from tests.helpers import CHROMIUM_GROUP, start_lab
from transport.browser import agreement as browser_agreement
from transport.clients.virtual_browser import VirtualBrowser
from transport.browser.chromium import find_chromium

pytestmark = [pytest.mark.skipif(find_chromium() is None, reason="no Chromium (CI installs it and never skips)"),
              CHROMIUM_GROUP]


async def test_both_browsers_run_the_scenario_and_agree_on_every_aspect():
    lab = start_lab("--sse-retry", "200", rate=30)
    try:
        rows = await browser_agreement.compare(lab.url, lab.token)
    finally:
        lab.stop()
    assert [r.key for r in rows] == [key for key, _ in browser_agreement.ASPECTS]
    assert all(r.agree for r in rows), [r.to_json() for r in rows if not r.agree]
    by_key = {r.key: r for r in rows}
    assert by_key["cookie_httponly"].real == "yes" and by_key["script_sees_cookie"].real == "no"
    assert by_key["expired_me"].real == "401" and by_key["ws_loss"].real == "0 / 0"


async def test_a_virtual_browser_that_differs_shows_as_a_disagreement(monkeypatch):
    """Before this issue the virtual browser let scripts see HttpOnly cookies; the table says so."""
    def sees_all(self, url):
        return "; ".join(f"{c.name}={c.value}" for c in self.cookies())
    monkeypatch.setattr(VirtualBrowser, "script_cookies", sees_all)
    lab = start_lab("--sse-retry", "200", rate=30)
    try:
        rows = await browser_agreement.compare(lab.url, lab.token)
    finally:
        lab.stop()
    differ = [r for r in rows if not r.agree]
    assert [r.key for r in differ] == ["script_sees_cookie"]
    assert (differ[0].virtual, differ[0].real) == ("yes", "no")

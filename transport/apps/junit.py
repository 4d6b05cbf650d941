"""``probe --junit-xml PATH``: one JUnit test case per probe run, for any CI that reads JUnit (GitHub Actions'
reporters, GitLab, Jenkins). The case fails when the probe did (its reason) or when the ledger counts a
message lost or duplicated (the ledger's verdict as the failure's message, the loss report as its text)."""

from __future__ import annotations

import os
import socket
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Any


def write_junit(path: str, *, name: str, seconds: float, code: int, reason: str, ledger: dict[str, Any] | None,
                report: str | None, stdout_tail: str = "") -> None:
    """Write the file (replacing it; atomically: a reader never sees half of one)."""
    failed = code != 0 or bool(ledger and (ledger.get("lost") or ledger.get("duplicated")))
    suite = ET.Element("testsuite", name="duplex probe", tests="1", failures="1" if failed else "0", errors="0",
                       skipped="0", time=f"{seconds:.3f}", hostname=socket.gethostname(),
                       timestamp=datetime.now(timezone.utc).replace(microsecond=0).isoformat())
    case = ET.SubElement(suite, "testcase", classname="duplex.probe", name=name, time=f"{seconds:.3f}")
    if failed:
        verdict = ledger.get("verdict", "") if ledger else ""
        message = verdict if ledger and (ledger.get("lost") or ledger.get("duplicated")) else (reason or verdict)
        failure = ET.SubElement(case, "failure", message=message, type="loss" if code in (0, 3) else "probe")
        failure.text = "\n".join(p for p in (report, reason if reason != message else "") if p)
    if ledger is not None:
        props = ET.SubElement(case, "properties")
        for key in ("received", "lost", "duplicated", "replayed", "reordered", "episodes", "recovered", "rule"):
            ET.SubElement(props, "property", name=f"ledger.{key}", value=str(ledger.get(key)))
    if stdout_tail:
        ET.SubElement(case, "system-out").text = stdout_tail
    tmp = f"{path}.tmp{os.getpid()}"
    ET.ElementTree(suite).write(tmp, encoding="utf-8", xml_declaration=True)
    os.replace(tmp, path)

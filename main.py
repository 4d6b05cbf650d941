#!/usr/bin/env python3
"""Duplex: a desktop lab and monitor for client–server real-time communication.

    main.py                      open the window (the lab server starts with it)
    main.py --smoke              start, wait for the first live message, print the time, exit
    main.py --serve [options]    run the lab server in the foreground (python -m transport.server)
    main.py probe URL [options]  watch an endpoint headless, one JSON line per event (no Qt)
    main.py storm URL [options]  a reconnect storm on Locust, each user's ledger aggregated (no Qt)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

STARTED = time.monotonic()
HERE = Path(__file__).resolve().parent


def _reexec_in_venv() -> None:
    """Double-clicked with a system Python: switch to the project's .venv if it has Qt."""
    venv_python = HERE / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if venv_python.exists() and Path(sys.prefix).resolve() != (HERE / ".venv").resolve():
        os.execv(str(venv_python), [str(venv_python), str(HERE / "main.py"), *sys.argv[1:]])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    if argv[:1] == ["probe"]:
        from transport.apps.probe import main as probe_main
        return probe_main(argv[1:])
    if argv[:1] == ["storm"]:
        from transport.loadtest.cli import main as storm_main
        return storm_main(argv[1:])
    if "--serve" in argv:
        from transport.server.__main__ import run as serve
        return serve([a for a in argv if a != "--serve"])
    try:
        import PySide6  # noqa: F401
    except ImportError:
        _reexec_in_venv()
        print("Duplex needs its Python packages: run 'make run' once in the project folder.", file=sys.stderr)
        return 1
    from ui.syscheck import problem
    sentence = problem()
    if sentence:
        print(sentence, file=sys.stderr)
        return 1
    from ui.app import run
    return run(argv, STARTED)


def cli() -> None:
    """Console entry point: ``duplex-probe URL ...``."""
    sys.exit(main(["probe", *sys.argv[1:]]))


def gui() -> None:
    """GUI entry point: ``duplex``."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())

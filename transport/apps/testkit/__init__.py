"""Duplex in a user's own tests: a lab process, fault proxies and watched clients (the pytest plugin's parts,
usable without pytest too). Everything runs on one asyncio loop in a thread of its own (``loop.py``), so a
test's own loop (pytest-asyncio's, in any mode and loop scope) only awaits, and cleanup never depends on it."""

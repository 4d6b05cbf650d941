"""The pure core: records, parsers, codecs and sans-I/O logic (receiver, reconnect, ledger).

It imports nothing of the layers above it (tests/test_architecture.py derives it from this folder)."""

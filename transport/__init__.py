"""Duplex transport layer: events, clients, the lab server. Qt-free by design."""

"""Duplex's Qt layer: thin widgets over transport events."""

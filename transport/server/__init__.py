"""The lab server: one aiohttp application that speaks every transport."""

from transport.server.app import create_app
from transport.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]

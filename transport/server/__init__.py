"""The lab server: one aiohttp application that speaks every transport."""

from .app import create_app
from .config import ServerConfig

__all__ = ["ServerConfig", "create_app"]

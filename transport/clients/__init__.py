"""Clients, one per transport, all honouring :class:`transport.clients.base.Client`."""

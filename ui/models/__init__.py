"""Qt item models: adapters from pure stores (transport.core.rows) to views."""

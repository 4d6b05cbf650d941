"""Qt item models: adapters from pure stores (transport.rows) to views."""

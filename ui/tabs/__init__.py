"""A tab per transport, plus Compare and Server: each lays out its widgets and binds them to its controller."""

"""Search spaces and search strategies (searchers)."""

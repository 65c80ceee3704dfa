"""HTTP routes, request parsing and responses."""

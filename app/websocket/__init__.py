"""Streams over WebSocket: a stateful model's state kept by the connection."""

"""Dynamic batching: requests for one model share runs, off the event loop."""

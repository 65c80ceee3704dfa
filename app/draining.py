"""Draining on SIGTERM: readiness turns 503 while requests are still served, then uvicorn's graceful stop.

A load balancer, or Kubernetes' endpoints, learns that a replica is going from its readiness probe some
seconds after the signal; a server that stopped accepting at once would refuse what is sent meanwhile.
So the first SIGTERM only starts draining: readiness answers 503, HTTP answers carry `Connection: close`
(a keep-alive client reconnects, through its balancer, to another replica), and after `drain_s` the
signal goes on to uvicorn's own handler, which stops accepting, finishes what is in flight and exits.
A second SIGTERM, or SIGINT, goes on at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

log = logging.getLogger("app.draining")


class Drain:
    """The process's draining state: `draining` from the first SIGTERM on."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started: float | None = None  # monotonic time of the first SIGTERM

    @property
    def draining(self) -> bool:
        return self.started is not None

    def begin(self) -> None:
        if self.started is None:
            self.started = time.monotonic()

    @contextlib.contextmanager
    def on_sigterm(self) -> Iterator[None]:
        """Take SIGTERM before the server's own handler (uvicorn's, installed while it serves); restore it after.

        Does nothing without a wait to make, off the main thread (only it may handle signals), or where no
        handler of the server's would take the signal on."""
        onward: Callable[[int, FrameType | None], Any] | int | None = None
        if self.seconds > 0 and threading.current_thread() is threading.main_thread():
            onward = signal.getsignal(signal.SIGTERM)
        if not callable(onward):
            yield
            return
        loop = asyncio.get_running_loop()
        timer: list[asyncio.TimerHandle] = []

        def pass_on() -> None:
            onward(signal.SIGTERM, None)

        def handle(sig: int, frame: FrameType | None) -> None:
            if self.draining:
                onward(sig, frame)
                return
            self.begin()
            log.warning("SIGTERM: draining for %.1f s (readiness 503) before the server stops accepting",
                        self.seconds)
            # From a signal handler: the thread-safe call wakes the loop, which then sets the timer.
            loop.call_soon_threadsafe(lambda: timer.append(loop.call_later(self.seconds, pass_on)))

        signal.signal(signal.SIGTERM, handle)
        try:
            yield
        finally:
            for handle_ in timer:
                handle_.cancel()
            if signal.getsignal(signal.SIGTERM) is handle:
                signal.signal(signal.SIGTERM, onward)

"""python -m app [--host H] [--port P] [--workers N]: serve the model repository with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from app.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m app", description="Serve seqserve's models over HTTP.")
    parser.add_argument("--host", default=settings.host, help=f"interface to bind (default {settings.host})")
    parser.add_argument("--port", type=int, default=settings.port, help=f"port (default {settings.port})")
    parser.add_argument("--workers", type=int, default=settings.workers, help="worker processes")
    args = parser.parse_args(argv)
    uvicorn.run(
        "app.main:app", host=args.host, port=args.port, workers=args.workers,
        log_level=settings.log_level, access_log=False, timeout_graceful_shutdown=30,
        proxy_headers=settings.proxy_headers,
    )


if __name__ == "__main__":
    main()

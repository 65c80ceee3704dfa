"""python -m app [--host H] [--port P] [--workers N|auto]: serve the model repository with uvicorn."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import tempfile
from typing import Literal

import uvicorn

from app.http.protocol import HttpProtocol
from app.metrics import MULTIPROC_ENV
from app.settings import get_settings
from app.state_token import key_for_run


def workers_argument(value: str) -> int | Literal["auto"]:
    if value == "auto":
        return "auto"
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1 or 'auto', got {value!r}")
    return int(value)


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m app", description="Serve seqserve's models over HTTP.")
    parser.add_argument("--host", default=settings.host, help=f"interface to bind (default {settings.host})")
    parser.add_argument("--port", type=int, default=settings.port, help=f"port (default {settings.port})")
    parser.add_argument("--workers", type=workers_argument, default=settings.workers,
                        help="worker processes, or 'auto' for one per core (default %(default)s)")
    args = parser.parse_args(argv)
    workers = settings.model_copy(update={"workers": args.workers}).worker_count
    # Every worker builds its settings from the environment: what the command line said goes there too
    # (the gRPC server binds the same host, and shares its port only between workers of one server).
    os.environ["SEQSERVE_HOST"], os.environ["SEQSERVE_WORKERS"] = args.host, str(workers)
    if not settings.signing_keys:  # one key for all workers, so any of them takes a stream's next step
        os.environ["SEQSERVE_STREAM_KEY"] = key_for_run(settings.stream_key_file)
    if not settings.signing_keys and settings.stream_key_file is None:
        logging.getLogger("app").warning("SEQSERVE_STREAM_KEY is not set: stream state tokens are signed with "
                                         "a key made for this run; set one shared by every replica")
    if workers > 1 and settings.model_control == "explicit" and settings.state_dir is None:
        # Explicit load/unload reach one worker; the others read the decision from here (app/repository/control.py).
        state_dir = tempfile.mkdtemp(prefix="seqserve-")
        os.environ["SEQSERVE_STATE_DIR"] = state_dir
        atexit.register(shutil.rmtree, state_dir, True)
    if workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # One scrape of /metrics shows every worker: they share their numbers through files here (app/metrics.py).
        try:
            metrics_dir = tempfile.mkdtemp(prefix="seqserve-metrics-")
        except OSError as exc:
            parser.exit(2, f"cannot make a folder for the workers' shared metrics in {tempfile.gettempdir()} "
                           f"({exc.strerror}); set {MULTIPROC_ENV} to a writable folder, or run one worker\n")
        os.environ[MULTIPROC_ENV] = metrics_dir
        atexit.register(shutil.rmtree, metrics_dir, True)
    get_settings.cache_clear()  # a single worker runs in this process: it reads the settings again
    uvicorn.run(
        "app.main:app", host=args.host, port=args.port, workers=workers,
        log_level=settings.log_level, access_log=False, timeout_graceful_shutdown=30,
        proxy_headers=settings.proxy_headers, http=HttpProtocol,
        ws_max_size=settings.ws_max_message_bytes,  # a bigger frame is refused as it arrives, not read whole
    )


if __name__ == "__main__":
    main()

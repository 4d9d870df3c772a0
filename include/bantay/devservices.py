"""Local stand-ins for the stack's services, on loopback, for ``make demo``: an S3 endpoint
(moto's server: real S3 API over HTTP, conditional writes included) and an SMTP sink that keeps
every message as an ``.eml`` file. Runs until interrupted."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from pathlib import Path


class _EmlSink:
    """aiosmtpd handler: each accepted message becomes ``<n>-<timestamp>.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        with self._lock:
            n = len(list(self.folder.glob("*.eml"))) + 1
            path = self.folder / f"{n:04d}-{time.strftime('%Y%m%dT%H%M%S')}.eml"
            path.write_bytes(envelope.original_content or envelope.content)
        return "250 OK kept as " + path.name


def serve(s3_port: int, smtp_port: int, mail_dir: Path, ready_file: Path | None = None) -> None:
    from aiosmtpd.controller import Controller
    from moto.server import ThreadedMotoServer

    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    s3.start()
    smtp = Controller(_EmlSink(mail_dir), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    print(
        f"S3 endpoint http://127.0.0.1:{s3_port}  SMTP sink 127.0.0.1:{smtp_port} -> {mail_dir}",
        flush=True,
    )
    if ready_file:
        ready_file.write_text("ready")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    smtp.stop()
    s3.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--s3-port", type=int, default=9010)
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--mail-dir", type=Path, default=Path(".demo/mail"))
    parser.add_argument("--ready-file", type=Path)
    args = parser.parse_args()
    serve(args.s3_port, args.smtp_port, args.mail_dir, args.ready_file)


if __name__ == "__main__":
    main()

"""A static file server for the renderer tests: the page's real assets under /static, the harness and fixtures
under /harness. Plain stdlib HTTP with Range support, so <audio> can read durations and seek as it does against
the playground."""

from __future__ import annotations

import mimetypes
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MOUNTS = {
    "/static/": ROOT / "bot" / "playground" / "static",
    "/harness/fixtures/": Path(__file__).parent / "fixtures",
    "/harness/": Path(__file__).parent / "harness",
}
mimetypes.add_type("text/javascript", ".js")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        return

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        target = None
        for prefix, folder in MOUNTS.items():
            if path.startswith(prefix):
                candidate = (folder / path[len(prefix) :]).resolve()
                if candidate.is_relative_to(folder.resolve()) and candidate.is_file():
                    target = candidate
                break
        if target is None:
            self.send_error(404)
            return
        data = target.read_bytes()
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match and (match[1] or match[2]):
            start = int(match[1]) if match[1] else max(0, len(data) - int(match[2]))
            end = int(match[2]) if match[1] and match[2] else len(data) - 1
            end = min(end, len(data) - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            body = data[start : end + 1]
        else:
            self.send_response(200)
            body = data
        self.send_header("Content-Type", ctype)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

"""The real thing for the end-to-end tests: ``python -m bot --playground`` in a subprocess on a temporary data
folder, the sandbox provider rendering fast, the page's URL read from the one line the launch prints."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

URL_LINE = re.compile(r"Tunesmith playground: (http://\S+)")


class PlaygroundProcess:
    def __init__(self, data_dir: Path, *, port: int = 0) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url: str | None = None
        self.process: subprocess.Popen[str] | None = None
        self.log_path = data_dir / "playground.log"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUNESMITH_")}
        env.update(
            TUNESMITH_PLAYGROUND="true",
            TUNESMITH_PLAYGROUND_HOST="127.0.0.1",
            TUNESMITH_PLAYGROUND_PORT=str(self.port),
            TUNESMITH_DATABASE_PATH=str(self.data_dir / "tunesmith.sqlite3"),
            TUNESMITH_WEB_PORT="0",
            TUNESMITH_SANDBOX_RENDER_SECONDS="1",
            TUNESMITH_POLL_INTERVAL="0.5",
            TUNESMITH_LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, timeout: float = 60.0) -> str:
        log = self.log_path.open("a")
        # cwd is the data folder, so a developer's .env in the repository never leaks into the test.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "--playground"],
            cwd=self.data_dir,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                tail = self.log_tail()
                raise RuntimeError(f"no 'Tunesmith playground:' line within {timeout:.0f} s; log:\n{tail}") from None
            if line is None:
                raise RuntimeError(f"the playground exited with {self.process.wait()}; log:\n{self.log_tail()}")
            match = URL_LINE.search(line)
            if match:
                self.url = match[1]
                self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
                return self.url

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

"""Serve the Streamlit app for browser tests: a subprocess on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    def __init__(self, url: str, process: subprocess.Popen, log: Path) -> None:
        self.url, self.process, self.log = url, process, log


def start_app(database_url: str, data_dir: Path, territory: str = "test-territoire") -> App:
    """``streamlit run serve.py`` (the app as `observatoire app` serves it: behind its security
    headers) on a free port, waiting for its health check."""
    port = _free_port()
    log = data_dir / "streamlit.log"
    env = dict(
        os.environ, OBSERVATOIRE_DATABASE_URL=database_url, OBSERVATOIRE_DATA_DIR=str(data_dir),
        OBSERVATOIRE_TERRITORY=territory,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "serve.py"),
         "--server.headless", "true", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Streamlit s'est arrêté : {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return App(url, process, log)
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError(f"Streamlit ne répond pas sur {url} : {log.read_text()[-2000:]}")


def stop_app(app: App) -> None:
    app.process.terminate()
    try:
        app.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        app.process.kill()

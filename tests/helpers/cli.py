"""The command line as a user runs it: ``run.py`` in a child process, with its own data directory and database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def run(*args: str, data_dir: Path, stdin: str = "", database_url: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASCOLTO_DATA_DIR": str(data_dir), "ASCOLTO_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )

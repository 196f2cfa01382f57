"""A scripted git repository holding a scratch copy of the sample registry, with
deterministic commit times, for the pull-request and history tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .conftest import Scratch


class Repo:
    def __init__(self, scratch: Scratch) -> None:
        self.scratch = scratch
        self.root = scratch.root
        self.clock = 1_795_219_200  # 2026-11-21T00:00Z (the tests' day), then one hour per commit
        self.git("init", "-q", "-b", "main")
        self.commit("Initial registry")

    def git(self, *args: str) -> str:
        env = {**os.environ, "GIT_AUTHOR_NAME": "Secretariat", "GIT_AUTHOR_EMAIL": "secretariat@example.org",
               "GIT_COMMITTER_NAME": "Secretariat", "GIT_COMMITTER_EMAIL": "secretariat@example.org",
               "GIT_AUTHOR_DATE": f"@{self.clock} +0000", "GIT_COMMITTER_DATE": f"@{self.clock} +0000",
               "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.root.parent)}
        return subprocess.run(["git", "-C", str(self.root), *args], env=env, check=True,
                              capture_output=True, text=True).stdout

    def commit(self, message: str, *, at: int | None = None) -> str:
        self.clock = at if at is not None else self.clock + 3600
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def path(self, rel: str) -> Path:
        return self.root / rel

"""The Makefile's commands, as `make -n` prints them: paths an operator sets stay whole."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def planned(target: str, **variables: str) -> list[list[str]]:
    """The shell commands ``make -n target`` would run, each split as the shell splits it."""
    assignments = [f"{name}={value}" for name, value in variables.items()]
    printed = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, *assignments],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [shlex.split(line) for line in printed.splitlines() if line.strip()]


@pytest.mark.parametrize("target", ["clean", "index"])
def test_a_path_with_a_space_is_one_argument(target):
    """Unquoted, `make clean INDEX_DIR="/srv/reports index"` ran `rm -rf /srv/reports index`."""
    index, corpus = "/srv/reports index", "/srv/my corpus"
    commands = planned(target, INDEX_DIR=index, CORPUS_DIR=corpus)
    arguments = [word for command in commands for word in command]
    assert index in arguments
    assert "/srv/reports" not in arguments
    if target == "index":
        assert corpus in arguments

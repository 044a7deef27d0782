"""Shared test set-up: the data cache points at the shared reference data (never the network)."""

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("BAGEL_DATA_DIR") or Path(__file__).resolve().parents[1].parent / "shared" / "data").resolve()
os.environ["BAGEL_DATA_DIR"] = str(SHARED_DATA)
os.environ.pop("BAGEL_MIRROR", None)
os.environ.pop("BAGEL_WORKSPACE", None)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "imagenet" / "class_info.json").exists():
        pytest.fail(f"the shared reference data is missing at {SHARED_DATA}: set BAGEL_DATA_DIR")
    return SHARED_DATA


@pytest.fixture
def run_cli(capsys):
    """Run `bagel ...` in-process; returns (exit code, stdout, stderr)."""
    from bagel.cli import main

    def run(*args):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run

"""Build .venv-contract from requirements-contract.txt, once per version of that file.

The client stacks (openai, anthropic, the instrumentations, LangChain) are installed in a venv of
their own so they never change the app's .venv. `make test` runs this (`make install-contract`);
the contract tests' session fixture runs it too, under a file lock, so a bare `pytest` on a fresh
clone also works. A marker file holds the requirements' hash: same hash → nothing to do.

    python tests/contract/venv.py     # build or confirm; prints the venv's python
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements-contract.txt"
VENV = Path(os.environ.get("PILOT_CONTRACT_VENV", ROOT / ".venv-contract"))
MARKER = VENV / ".requirements-sha256"


def requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def python_path() -> Path:
    return VENV / "bin" / "python"


def is_current() -> bool:
    return python_path().exists() and MARKER.exists() and MARKER.read_text().strip() == requirements_hash()


def ensure_venv(log=sys.stderr) -> Path:
    """The contract venv's python, built or rebuilt first if the requirements changed."""
    if is_current():
        return python_path()
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / ".venv-contract.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers: one builds, the others wait
        if is_current():
            return python_path()
        print(f"contract tests: installing {REQUIREMENTS.name} into {VENV} (once per change of the file)", file=log)
        if VENV.exists():
            shutil.rmtree(VENV)
        base = os.environ.get("PILOT_CONTRACT_PYTHON") or shutil.which("python3.11") or sys.executable
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python_path()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(REQUIREMENTS)], check=True)
        MARKER.write_text(requirements_hash())
    return python_path()


if __name__ == "__main__":
    print(ensure_venv())

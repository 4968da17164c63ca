"""Shared by the peer scripts: each runs in its own virtual environment under
benches/peers/ (git-ignored), created on first use with the packages it needs from
PyPI, so that nothing has to be installed by hand. Peers are benchmarks only, never a
dependency of relucert."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FLAG = "RELUCERT_PEER_VENV"


def reexec_in_venv(script, name, packages):
    """Re-runs `script` (with the same arguments) under the Python of
    benches/peers/<name>, creating it and installing `packages` first; returns at once
    when already running there."""
    venv = os.path.join(HERE, name)
    py = os.path.join(venv, "bin", "python")
    if os.environ.get(FLAG) == venv:
        return
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([py, "-m", "pip", "install", "-q", *packages])
    env = dict(os.environ, **{FLAG: venv})
    os.execve(py, [py, os.path.abspath(script)] + sys.argv[1:], env)

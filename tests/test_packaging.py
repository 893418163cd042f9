"""A non-editable install carries the device models inside the package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_installed_package_finds_its_device_models(tmp_path):
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--target", str(target), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    probe = ("import pycircuits.pdk as p, sys; "
             "print(p.DEVICEMODELS); print(sorted(x.name for x in p.DEVICEMODELS.glob('*.lib')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    folder, names = out.stdout.splitlines()
    assert folder.startswith(str(target))
    assert {"generic130.lib", "rram.lib", "pcm.lib", "memstack.lib"} <= set(ast.literal_eval(names))

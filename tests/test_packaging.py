"""A non-editable install, built the way pip builds (isolated), carries the device models and py.typed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_installed_package_finds_its_device_models(tmp_path):
    target = tmp_path / "site"
    # build isolation: the build requirements come from pyproject.toml, not from what this venv holds
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--target", str(target), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    probe = ("import pycircuits.pdk as p, pathlib, pycircuits; "
             "print(p.DEVICEMODELS); print(sorted(x.name for x in p.DEVICEMODELS.glob('*.lib'))); "
             "print((pathlib.Path(pycircuits.__file__).parent / 'py.typed').is_file())")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    folder, names, typed = out.stdout.splitlines()
    assert folder.startswith(str(target)) and typed == "True"
    assert {"generic130.lib", "rram.lib", "pcm.lib", "memstack.lib"} <= set(ast.literal_eval(names))

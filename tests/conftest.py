"""Shared fixtures: a per-process Session, helpers to build small test netlists."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def session():
    """The process-wide Session (libngspice is one per process)."""
    from pycircuits.spice import default_session
    return default_session()


@pytest.fixture
def clean_env(tmp_path):
    """An environment for subprocess CLI runs, with a private HOME and cache."""
    env = dict(os.environ)
    env["HOME"] = str(tmp_path / "home")
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env

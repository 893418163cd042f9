"""Progress bars on a terminal and none when piped; -v/-vv/-q set what the tool says on stderr."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time

import numpy as np
import pytest

from marks import requires_ngspice

SWEEP = ["sweep", "rc", "--vary", "r=list:1k,2k,3k", "--jobs", "1", "--no-cache"]


def on_pty(*args: str, cwd=None, env=None, timeout: float = 300) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal of 24x100 (stdout piped); (status, stdout, terminal text)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "pycircuits", *args], stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL, cwd=cwd, env=env)
    os.close(slave)
    seen, end = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        out = proc.stdout.read().decode()
        return proc.wait(timeout=10), out, seen.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def piped(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pycircuits", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def has_bar(text: str, label: str) -> bool:
    return any(label in line and "%|" in line for line in text.replace("\r", "\n").splitlines())


@requires_ngspice
def test_a_sweep_draws_its_bar_on_a_terminal_only(tmp_path, clean_env):
    status, _, tty = on_pty(*SWEEP, "-o", str(tmp_path / "a.nc"), cwd=tmp_path, env=clean_env)
    assert status == 0
    assert has_bar(tty, "sweep") and "3/3" in tty
    r = piped(*SWEEP, "-o", str(tmp_path / "b.nc"), cwd=tmp_path, env=clean_env)
    assert r.returncode == 0
    assert "%|" not in r.stderr and "\r" not in r.stderr


@requires_ngspice
def test_quiet_turns_the_bar_off_on_a_terminal(tmp_path, clean_env):
    status, _, tty = on_pty("-q", *SWEEP, "-o", str(tmp_path / "a.nc"), cwd=tmp_path, env=clean_env)
    assert status == 0
    assert "%|" not in tty
    assert (tmp_path / "a.nc").is_file()


def test_training_shows_epochs_of_each_model_of_a_study_on_a_terminal(tmp_path):
    status, out, tty = on_pty("network", "run", "crossbar", "--quick", "-o", str(tmp_path / "x"))
    assert status == 0, out
    assert has_bar(tty, "crossbar model 1") and has_bar(tty, "crossbar model 3")
    assert "epoch" in tty
    r = piped("network", "run", "crossbar", "--quick", "-o", str(tmp_path / "y"))
    assert r.returncode == 0
    assert "%|" not in r.stderr and "\r" not in r.stderr
    # the bars leave the results alone: the same table either way
    assert out == r.stdout.replace(str(tmp_path / "y"), str(tmp_path / "x"))


def test_train_can_force_its_bar(capsys):
    from pycircuits.network.layers import Dense
    from pycircuits.network.training import Sequential, train
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)), rng.integers(0, 2, size=32)
    train(Sequential([Dense(4, 2, rng=rng)]), x, y, epochs=3, batch_size=8, lr=1e-2, rng=1, show_progress=True)
    err = capsys.readouterr().err
    assert "model 1:" in err and "0/3" in err and "epoch/s" in err
    train(Sequential([Dense(4, 2, rng=rng)]), x, y, epochs=3, batch_size=8, lr=1e-2, rng=1)
    assert capsys.readouterr().err == ""  # not a terminal here


@requires_ngspice
def test_verbose_names_the_engine_and_the_cache(tmp_path, clean_env):
    r = piped("-v", "run", "rc", cwd=tmp_path, env=clean_env)
    assert r.returncode == 0, r.stderr
    assert "ran on ngspice" in r.stderr and "session backend" in r.stderr
    r = piped("-v", *SWEEP[:-1], "-o", str(tmp_path / "s.nc"), cwd=tmp_path, env=clean_env)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stderr.splitlines() if "sweep of rc" in ln)
    assert "cache" in line and str(tmp_path / "cache") in line and "0 served, 3 computed" in line
    again = piped("-v", *SWEEP[:-1], "-o", str(tmp_path / "t.nc"), cwd=tmp_path, env=clean_env)
    assert "3 served, 0 computed" in again.stderr
    quiet = piped(*SWEEP[:-1], "-o", str(tmp_path / "u.nc"), cwd=tmp_path, env=clean_env)
    assert quiet.stderr == ""


@requires_ngspice
def test_very_verbose_shows_ngspice_s_own_output(tmp_path, clean_env):
    r = piped("-vv", "run", "rc", "--backend", "batch", cwd=tmp_path, env=clean_env)
    assert r.returncode == 0, r.stderr
    assert any(ln.startswith("pycircuits: DEBUG: ngspice -b: ") for ln in r.stderr.splitlines())
    r = piped("-vv", "run", "rc", cwd=tmp_path, env=clean_env)
    assert any(ln.startswith("pycircuits: DEBUG: ngspice (session): ") for ln in r.stderr.splitlines())


@requires_ngspice
def test_ngspice_notes_of_a_sweep_are_logged_once_each(tmp_path, clean_env):
    deck = tmp_path / "gmin.cir"
    # noopiter sends the operating point straight to gmin stepping, which ngspice announces
    deck.write_text("* gmin\n.param vs=5\nV1 a 0 {vs}\nR1 a b 1k\nD1 b 0 dmod\n.model dmod d\n"
                    ".options noopiter\n.op\n.end\n")
    r = piped("-v", "sweep", str(deck), "--vary", "vs=list:4,5,6", "--jobs", "1", "--no-cache",
              "-o", str(tmp_path / "g.nc"), cwd=tmp_path, env=clean_env)
    assert r.returncode == 0, r.stderr
    notes = [ln for ln in r.stderr.splitlines() if ln.startswith("pycircuits: INFO: ngspice (")]
    assert "pycircuits: INFO: ngspice (3 points): Note: Starting dynamic gmin stepping" in notes
    assert len(notes) == len(set(notes))
    assert "gmin" not in piped("sweep", str(deck), "--vary", "vs=list:4,5,6", "--jobs", "1", "--no-cache",
                               "-o", str(tmp_path / "h.nc"), cwd=tmp_path, env=clean_env).stderr


def test_verbose_and_quiet_together_is_an_error():
    r = piped("-v", "-q", "list")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["pycircuits: error: give -v or -q, not both"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_scripts_come_from_the_command(shell):
    env = {**os.environ, "_PYCIRCUITS_COMPLETE": f"{shell}_source"}
    r = subprocess.run([sys.executable, "-m", "pycircuits"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0
    assert "_PYCIRCUITS_COMPLETE" in r.stdout and "pycircuits" in r.stdout


def test_completion_offers_circuit_names_then_files(tmp_path):
    env = {**os.environ, "_PYCIRCUITS_COMPLETE": "bash_complete", "COMP_WORDS": "pycircuits sweep r",
           "COMP_CWORD": "2"}
    r = subprocess.run([sys.executable, "-m", "pycircuits"], capture_output=True, text=True, env=env, timeout=60,
                       cwd=tmp_path)
    assert r.stdout.splitlines() == ["plain,rc", "plain,rram-iv", "file,r"]

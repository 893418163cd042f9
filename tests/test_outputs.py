"""The one output guard: no input, device or FIFO overwritten, a full disk is one line, nothing half-written."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from marks import requires_ngspice

pytestmark = requires_ngspice


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pycircuits", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def one_line_exit_2(r, needle: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and needle in lines[0], r.stderr


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A sweep, its CSV and a curve, to be inputs."""
    folder = tmp_path_factory.mktemp("inputs")
    assert cli("sweep", "rc", "--vary", "r=log:1k:10k:3", "--no-cache", "-o", "S.nc", cwd=folder).returncode == 0
    assert cli("extract", "rc-tau", "S.nc", "-o", "C.json", cwd=folder).returncode == 0
    return folder


@pytest.mark.parametrize("link, args, needle", [
    ("S.nc", ["extract", "rc-tau", "S.nc", "-o", "X.json"], "it is S.nc, an input"),
    ("S.csv", ["extract", "rc-tau", "S.nc", "-o", "X.json"], "it is S.csv, an input"),
    ("C.json", ["plot", "C.json", "-o", "X.png"], "it is C.json, an input"),
    ("S.nc", ["plot", "S.nc", "-o", "X.png"], "it is S.nc, an input"),
])
def test_an_output_that_is_an_input_under_another_name_is_refused(made, tmp_path, link, args, needle):
    for name in ("S.nc", "S.csv", "C.json"):
        os.link(made / name, tmp_path / name)
    os.link(tmp_path / link, tmp_path / args[-1])  # the output is the input's other name
    before = (tmp_path / link).read_bytes()
    one_line_exit_2(cli(*args, cwd=tmp_path), needle)
    assert (tmp_path / link).read_bytes() == before


@pytest.mark.parametrize("args, needle", [
    (["extract", "rc-tau", "S.nc", "-o", "S.nc"], "a curve is a .json file"),
    (["extract", "rc-tau", "S.nc", "-o", "S.csv"], "a curve is a .json file"),
    (["plot", "C.json", "-o", "C.json"], "a plot is a .png file"),
    (["plot", "S.nc", "-o", "S.nc"], "a plot is a .png file"),
    (["run", "rc", "-o", "W.nc", "--plot", "W.nc"], "it is also given as W.nc"),
])
def test_an_output_named_like_an_input_is_refused_and_the_input_kept(made, args, needle):
    before = {n: (made / n).read_bytes() for n in ("S.nc", "S.csv", "C.json")}
    one_line_exit_2(cli(*args, cwd=made), needle)
    assert {n: (made / n).read_bytes() for n in before} == before


def test_devices_and_fifos_are_never_written(tmp_path):
    os.symlink("/dev/null", tmp_path / "null.raw")
    os.mkfifo(tmp_path / "fifo.raw")
    os.mkfifo(tmp_path / "fifo.nc")
    for args in (["run", "rc", "--backend", "batch", "--raw", "null.raw"],
                 ["run", "rc", "--backend", "batch", "--raw", "fifo.raw"],
                 ["run", "rc", "--raw", "null.raw"],
                 ["run", "rc", "--raw", "fifo.raw"],
                 ["run", "rc", "-o", "fifo.nc"],
                 ["sweep", "rc", "--vary", "r=list:1k", "--no-cache", "-o", "fifo.nc"]):
        one_line_exit_2(cli(*args, cwd=tmp_path), "is not a regular file")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo.raw").st_mode)


@pytest.mark.parametrize("backend", ["batch", "session"])
def test_the_raw_file_appears_only_complete(tmp_path, backend):
    r = cli("run", "rc", "--backend", backend, "--raw", "w.raw", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "w.raw").read_bytes().startswith(b"Title:")
    assert [p.name for p in tmp_path.iterdir()] == ["w.raw"]  # no temporary left beside it


@pytest.fixture()
def full_disk(tmp_path):
    """A 200 kB tmpfs filled to the last block (needs the right to mount; skipped without it)."""
    mnt = tmp_path / f"full-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 512)
        except OSError:
            pass
        finally:
            os.close(fd)
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_full_disk_is_one_line_naming_it_and_leaves_nothing(full_disk, tmp_path):
    for args in (["run", "rc", "-o", str(full_disk / "w.nc")],
                 ["run", "rc", "--backend", "batch", "--raw", str(full_disk / "w.raw")],
                 ["sweep", "rc", "--vary", "r=list:1k,2k", "--no-cache", "-o", str(full_disk / "s.nc")],
                 ["extract", "rc-tau", "--run", "--mc", "2", "-o", str(full_disk / "c.json")]):
        r = cli(*args, cwd=tmp_path)
        one_line_exit_2(r, f"no space left on the disk of {full_disk}")
    assert sorted(p.name for p in Path(full_disk).iterdir()) == ["filler"]


def test_cache_writes_that_fail_are_warned_about(full_disk, tmp_path):
    r = cli("sweep", "rc", "--vary", "r=list:1k,2k,3k", "--cache", str(full_disk / "cache"), "-o", "s.nc",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "warning: 3 of 3 computed points could not be stored in the cache" in r.stderr
    assert "no space left" in r.stderr and "a resume computes them again" in r.stderr


def test_a_killed_batch_run_takes_ngspice_with_it_and_the_next_run_clears_its_folder(tmp_path):
    import signal
    import time
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "pycircuits", "run", "rc", "--backend", "batch", "-p", "t_stop=1",
                             "-p", "n_steps=5000000"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob("pycircuits-run-*/out.raw")):
        time.sleep(0.1)
    (run_dir,) = tmp_path.glob("pycircuits-run-*")
    children = subprocess.run(["pgrep", "-f", str(run_dir)], capture_output=True, text=True).stdout.split()
    assert children  # ngspice is running in it
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)
    alive = [p for p in children if Path(f"/proc/{p}/status").exists()
             and "zombie" not in Path(f"/proc/{p}/status").read_text()]
    assert alive == []  # ngspice died with the CLI
    assert run_dir.exists()  # what the killed run left ...
    r = subprocess.run([sys.executable, "-m", "pycircuits", "run", "rc", "--backend", "batch"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and not run_dir.exists()  # ... the next batch run removes


def test_a_half_written_output_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".w.nc.{dead.pid}-abc123.tmp"
    stale.write_bytes(b"\0" * 1000)
    live = tmp_path / f".w.nc.{os.getpid()}-def456.tmp"  # a writer still running keeps its file
    live.write_bytes(b"")
    r = cli("run", "rc", "-o", "w.nc", cwd=tmp_path)
    assert r.returncode == 0 and not stale.exists() and live.exists() and (tmp_path / "w.nc").is_file()

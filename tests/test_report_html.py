"""The one-file HTML report: self-contained, every figure and table of its folder, sortable in a real browser."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from pycircuits.htmlreport import build_report, write_report

from marks import requires_ngspice

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
requires_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make browser)")


class _Tags(HTMLParser):
    """Every tag's attributes, and the text of tables' cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def tags(text: str) -> list[tuple[str, dict[str, str]]]:
    p = _Tags()
    p.feed(text)
    return p.tags


def assert_self_contained(text: str) -> None:
    """Nothing the page would fetch: every src is a data: URI, every href an anchor of the page."""
    found = tags(text)
    anchors = {a.get("id") for _, a in found if a.get("id")}
    for tag, attrs in found:
        for key in ("src", "href", "action", "poster", "data"):
            if key in attrs:
                value = attrs[key]
                assert value.startswith("data:") or value.startswith("#") or value == "", (tag, key, value[:80])
                if value.startswith("#") and len(value) > 1:
                    assert value[1:] in anchors, f"link to a missing section {value}"
        assert tag not in ("link", "iframe", "object", "embed", "base"), tag
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", text)
    assert not re.search(r"@import", text)


def png(path: Path, shade: int) -> Path:
    """A tiny real PNG of one grey shade (via matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(1, 1), dpi=20)
    fig.patch.set_facecolor(str(shade / 255))
    fig.savefig(path)
    plt.close(fig)
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    """A folder of every kind a command writes: figures, CSV, curve and metrics JSON, NetCDF, npz, a netlist."""
    import xarray as xr
    d = tmp_path / "results"
    (d / "sub").mkdir(parents=True)
    png(d / "a.png", 10)
    png(d / "sub" / "b.png", 200)
    (d / "s.csv").write_text("# a comment line\nr,tau_s\n1000,1e-06\n200,2e-07\n30000,3e-05\n")
    (d / "curve.json").write_text(json.dumps({"name": "c", "x": [1.0, 2.0, 3.0], "y": [4.0, 5.0, 6.0], "x_unit": "Ohm",
                                              "y_unit": "s", "percentiles": {"5": [3.9, 4.9, 5.9]}, "recipe": "r"}))
    (d / "sub" / "metrics.json").write_text(json.dumps({"experiment": "x", "metrics": {"acc": 0.9},
                                                        "table": [{"metric": "accuracy", "ours": "95.1 ± 0.4 %",
                                                                   "published": "97 %"},
                                                                  {"metric": "loss", "ours": "0.2", "published": ""}]}))
    xr.Dataset({"tau_s": ("r", np.array([1e-6, 2e-6]), {"units": "s"})}, coords={"r": [1e3, 2e3]},
               attrs={"Conventions": "CF-1.10"}).to_netcdf(d / "s.nc", engine="h5netcdf")
    np.savez(d / "w.npz", W=np.ones((3, 4)))
    (d / "net.cir").write_text("* rc\nR1 in out 1k\nC1 out 0 1n\n.end\n")
    (d / "blob.bin").write_bytes(b"\x00\x01")
    (d / "report.md").write_text("# Title\n\n![a](a.png)\n\n| k | v |\n|---|---|\n| x | 1 |\n\n"
                                 "[the netlist](net.cir), [away](https://example.org/x), ![gone](../outside.png)\n")
    return d


def test_the_report_embeds_every_figure_and_table_and_fetches_nothing(folder):
    text, counts = build_report(folder)
    assert_self_contained(text)
    for p in (folder / "a.png", folder / "sub" / "b.png"):
        assert base64.b64encode(p.read_bytes()).decode() in text
    assert text.count(base64.b64encode((folder / "a.png").read_bytes()).decode()) == 1  # once, in report.md
    assert counts["figures"] == 2
    # the report.md table, CSV, curve points + fields, metrics results + fields, nc variables + attributes,
    # npz arrays, the other files
    assert counts["tables"] == 1 + 1 + 2 + 2 + 2 + 1 + 1 == text.count('<table class="sortable">')
    for needle in ("30000", "3e-05", "95.1 ± 0.4 %", "CF-1.10", "tau_s", "R1 in out 1k", "blob.bin", "W", "3x4"):
        assert needle in text, needle
    assert "a comment line" not in text
    assert "https://example.org" not in text and ">away</a>" in text  # an outside link keeps its words only
    assert 'alt="gone" src=""' in text  # and an image outside the folder is not read
    assert 'href="#file-net.cir"' in text  # the local link goes to the netlist's section


def test_the_report_is_written_atomically_and_refuses_bad_outputs(folder, tmp_path):
    out, counts = write_report(folder)
    assert out == folder / "report.html" and out.is_file()
    again, _ = write_report(folder)  # the report itself is not reported
    assert "report.html" not in again.read_text().split("<body>")[1]
    from pycircuits.errors import UsageError
    with pytest.raises(UsageError, match="html"):
        write_report(folder, tmp_path / "r.png")
    with pytest.raises(UsageError, match="not a folder"):
        write_report(tmp_path / "nosuch", tmp_path / "r.html")


def test_the_report_command(folder, tmp_path):
    r = subprocess.run([sys.executable, "-m", "pycircuits", "report", str(folder), "-o", str(tmp_path / "r.html")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "2 figures, 10 tables from 10 files" in r.stdout
    bad = subprocess.run([sys.executable, "-m", "pycircuits", "report", str(folder / "a.png")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    (folder / "broken.nc").write_bytes(b"CDF\x01garbage")
    bad = subprocess.run([sys.executable, "-m", "pycircuits", "report", str(folder), "-o", str(tmp_path / "s.html")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "broken.nc" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s.html").exists()


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    # the flags of a headless run on a closed network: no background connections, a fresh profile
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


def console_errors(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]


@requires_chromium
@requires_ngspice
def test_the_demo_report_renders_in_headless_chromium(tmp_path):
    out = tmp_path / "demo"
    r = subprocess.run([sys.executable, "-m", "pycircuits", "demo", "--quick", "-o", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    page = out / "report.html"
    assert page.is_file() and (out / "report.md").is_file()
    text = page.read_text()
    assert_self_contained(text)
    pngs = sorted(out.rglob("*.png"))
    assert len(pngs) >= 5
    for p in pngs:
        assert base64.b64encode(p.read_bytes()).decode() in text, p

    t0 = time.perf_counter()
    shot = tmp_path / "report.png"
    r = chromium("--window-size=1280,3000", f"--screenshot={shot}", page.as_uri(), profile=tmp_path / "p1")
    render_s = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert console_errors(r.stderr) == []

    # the DOM after the page's script ran: no error, every image decoded, every table there, sorting right
    r = chromium("--virtual-time-budget=5000", "--dump-dom", page.as_uri() + "#selftest", profile=tmp_path / "p2")
    assert r.returncode == 0, r.stderr[-2000:]
    root = next(a for t, a in tags(r.stdout) if t == "html")
    assert root.get("data-ready") == "1"
    assert root.get("data-errors") == ""
    assert root.get("data-images") == root.get("data-images-drawn") == str(len(pngs))
    assert root.get("data-tables") == str(text.count('<table class="sortable">'))
    assert root.get("data-selftest") == "ok"
    assert console_errors(r.stderr) == []
    print(f"report {page.stat().st_size / 1e6:.2f} MB, screenshot in {render_s:.1f} s")

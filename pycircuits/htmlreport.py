"""One self-contained HTML file of any output folder: figures, tables and files, to mail.

:func:`write_report` reads a folder that pycircuits wrote (the demo's, a
sweep's, an extraction's, a ``network run``'s, or several of them) and writes
one HTML file with:

* the folder's ``report.md`` first, when it has one, rendered (the demo's);
* every PNG, embedded as a ``data:`` URI (nothing is fetched when it opens);
* every table as a sortable HTML table: CSV files, the studies' result
  tables in ``metrics.json``, TransferCurve points, the variables and
  attributes of NetCDF datasets, the arrays of ``.npz`` files;
* netlists and other text files in full, up to :data:`MAX_TEXT_LINES` lines.

The page needs no network: the style and the sorting script are inline, and
links point only within the page.  Clicking a column's header sorts the
table by it (numbers as numbers, "95.1 ± 0.4 %" by its first number).
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import html
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import __version__
from .errors import FileFormatError, UsageError
from .files import atomic_write_text, check_output

MAX_TABLE_ROWS = 2000
MAX_TEXT_LINES = 400
TEXT_SUFFIXES = (".cir", ".sp", ".spice", ".net", ".lib", ".txt", ".log", ".md", ".toml", ".va")

_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;
color:#1d1d1f}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.5em}.meta{color:#666;font-size:.9em}
img{max-width:100%;height:auto;border:1px solid #eee}figure{margin:1em 0}figcaption{color:#555;font-size:.9em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em;display:block;overflow-x:auto;max-height:36em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;white-space:nowrap}
th{background:#f4f4f6;position:sticky;top:0}table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f7f7f9;border:1px solid #eee;padding:.6em;overflow-x:auto;font-size:.85em;max-height:30em}
nav ul{columns:2;font-size:.9em}code{background:#f4f4f6;padding:0 .2em}
"""

# Sorting: numbers by value (the first number in the cell: "95.1 ± 0.4 %", "1e-05"), text otherwise.
# The page records that it ran (data-ready) and any script error (data-errors), for browser tests;
# with #selftest in its address it sorts every table by each column and checks the order.
_SCRIPT = r"""
(function(){
var root=document.documentElement;root.dataset.errors="";
window.addEventListener("error",function(e){root.dataset.errors+=(e.message||"error")+";";});
var NUM=/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/;
function key(td){var t=td.textContent,m=NUM.exec(t);return m?[0,parseFloat(m[0]),t]:[1,0,t.trim()];}
function cmp(a,b){if(a[0]!==b[0])return a[0]-b[0];if(a[0]===0&&a[1]!==b[1])return a[1]-b[1];
return a[2]<b[2]?-1:a[2]>b[2]?1:0;}
function sortBy(table,col,dir){var body=table.tBodies[0];if(!body)return;
var rows=Array.prototype.slice.call(body.rows);
rows.sort(function(r,s){var c=cmp(key(r.cells[col]),key(s.cells[col]));return dir==="descending"?-c:c;});
rows.forEach(function(r){body.appendChild(r);});
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
if(i===col)th.setAttribute("aria-sort",dir);else th.removeAttribute("aria-sort");});}
var tables=document.querySelectorAll("table.sortable");
Array.prototype.forEach.call(tables,function(t){if(!t.tHead)return;
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){th.addEventListener("click",function(){
sortBy(t,i,th.getAttribute("aria-sort")==="ascending"?"descending":"ascending");});});});
function selftest(){var bad=[];
Array.prototype.forEach.call(tables,function(t,n){if(!t.tBodies[0]||!t.tHead)return;
var cols=t.tHead.rows[0].cells.length;for(var c=0;c<cols;c++){["ascending","descending"].forEach(function(d){
sortBy(t,c,d);var rows=t.tBodies[0].rows;for(var r=1;r<rows.length;r++){
var o=cmp(key(rows[r-1].cells[c]),key(rows[r].cells[c]));if(d==="descending")o=-o;
if(o>0){bad.push(n+":"+c+":"+d);break;}}});}});
return bad.length?"fail "+bad.slice(0,5).join(","):"ok";}
function done(){var imgs=document.images,ok=0;for(var i=0;i<imgs.length;i++)
if(imgs[i].complete&&imgs[i].naturalWidth>0)ok++;
root.dataset.images=imgs.length;root.dataset.imagesDrawn=ok;root.dataset.tables=tables.length;
if(location.hash==="#selftest")root.dataset.selftest=selftest();root.dataset.ready="1";}
if(document.readyState==="complete")done();else window.addEventListener("load",done);
})();
"""


class _Page:
    """The report being written: sections in order, and the files already shown."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.parts: list[str] = []
        self.toc: list[tuple[str, str]] = []
        self.shown: set[Path] = set()
        self.n_figures = 0
        self.n_tables = 0

    def section(self, title: str, anchor: str, body: str) -> None:
        self.toc.append((anchor, title))
        self.parts.append(f'<section id="{html.escape(anchor)}"><h2>{html.escape(title)}</h2>\n{body}</section>')

    def figure(self, path: Path, caption: str) -> str:
        self.shown.add(path.resolve())
        self.n_figures += 1
        return (f'<figure><img alt="{html.escape(caption)}" src="{_data_uri(path)}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    def table(self, header: list[str], rows: Iterable[list[Any]], total: int | None = None) -> str:
        self.n_tables += 1
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body, n = [], 0
        for row in rows:
            if n == MAX_TABLE_ROWS:
                break
            body.append("<tr>" + "".join(_cell(v) for v in row) + "</tr>")
            n += 1
        note = ""
        if total is not None and total > n:
            note = f'<p class="meta">first {n} of {total} rows; the file holds them all</p>'
        return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{note}'


def _cell(v: Any) -> str:
    text = _fmt(v)
    cls = ' class="num"' if re.match(r"^\s*[-+]?(\d|\.\d)", text) else ""
    return f"<td{cls}>{html.escape(text)}</td>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v[:8]) + (", ..." if len(v) > 8 else "") + "]"
    if isinstance(v, dict):
        return json.dumps(v, default=str)[:300]
    return "" if v is None else str(v)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _anchor(rel: Path) -> str:
    return "file-" + re.sub(r"[^A-Za-z0-9_.-]", "-", rel.as_posix())


# ------------------------------------------------------------------ the files


def _markdown(page: _Page, path: Path) -> str:
    """A report.md rendered, its images embedded and its links turned to the page's own sections."""
    import markdown
    text = markdown.markdown(path.read_text(errors="replace"), extensions=["tables", "fenced_code"])

    def image(m: re.Match) -> str:
        src = html.unescape(m.group(2))
        target = (path.parent / src).resolve()
        if _inside(target, page.folder) and target.suffix.lower() == ".png" and target.is_file():
            page.shown.add(target)
            page.n_figures += 1
            return f'{m.group(1)}"{_data_uri(target)}"'
        return f'{m.group(1)}""'

    def link(m: re.Match) -> str:
        href = html.unescape(m.group(1))
        target = (path.parent / href).resolve()
        if "://" not in href and _inside(target, page.folder) and target.exists():
            return f'href="#{_anchor(target.relative_to(page.folder))}"'
        return 'href="#"'  # nothing outside the page

    text = re.sub(r'(<img[^>]*\bsrc=)"([^"]*)"', image, text)
    text = re.sub(r'href="([^"#][^"]*)"', link, text)
    text = text.replace("<table>", '<table class="sortable">')
    page.n_tables += text.count('<table class="sortable">')
    return text


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _csv(page: _Page, path: Path) -> str:
    with path.open(newline="", errors="replace") as f:
        rows = list(csv.reader(row for row in f if not row.startswith("#")))
    if not rows:
        return '<p class="meta">empty</p>'
    return page.table(rows[0], rows[1:], total=len(rows) - 1)


def _json(page: _Page, path: Path) -> str:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileFormatError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        return f"<pre>{html.escape(json.dumps(data, indent=1)[:20000])}</pre>"
    parts = []
    if isinstance(data.get("table"), list) and data["table"] and all(isinstance(r, dict) for r in data["table"]):
        keys = list(data["table"][0])
        parts.append("<h3>Results</h3>" + page.table(keys, ([r.get(k, "") for k in keys] for r in data["table"])))
    if isinstance(data.get("x"), list) and isinstance(data.get("y"), list):  # a TransferCurve
        parts.append(_curve_points(page, data))
    flat = [(k, v) for k, v in _flatten(data) if k.split(".")[0] not in ("table", "x", "y", "percentiles",
                                                                          "samples")]
    if flat:
        parts.append("<h3>Fields</h3>" + page.table(["field", "value"], flat))
    return "\n".join(parts)


def _curve_points(page: _Page, data: dict[str, Any]) -> str:
    """A curve's x, y and percentile columns; a file whose columns do not line up shows its fields only."""
    pct = data.get("percentiles") if isinstance(data.get("percentiles"), dict) else {}
    keys = sorted((k for k in pct if isinstance(pct[k], list) and len(pct[k]) == len(data["x"])),
                  key=lambda k: (not k.replace(".", "", 1).isdigit(), float(k) if k.replace(".", "", 1).isdigit()
                                 else 0.0, k))
    if len(data["x"]) != len(data["y"]):
        return '<p class="meta">x and y differ in length; the points are not shown</p>'
    header = [f"{data.get('x_name', 'x')} [{data.get('x_unit', '')}]",
              f"{data.get('y_name', 'y')} [{data.get('y_unit', '')}]", *(f"p{k}" for k in keys)]
    rows = ([x, y, *(pct[k][i] for k in keys)] for i, (x, y) in enumerate(zip(data["x"], data["y"], strict=True)))
    return "<h3>Points</h3>" + page.table(header, rows)


def _flatten(data: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _flatten(v, f"{prefix}{k}.")
    elif isinstance(data, list) and len(data) > 8 and all(isinstance(x, (int, float)) for x in data):
        yield prefix[:-1], f"{len(data)} numbers, {min(data):.6g} .. {max(data):.6g}"
    else:
        yield prefix[:-1], data


def _netcdf(page: _Page, path: Path) -> str:
    import numpy as np
    import xarray as xr
    try:
        ds = xr.open_dataset(path, engine="h5netcdf")
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one line
        raise FileFormatError(f"{path}: not a readable NetCDF file ({exc})") from None
    with ds:
        rows = []
        for name, var in ds.variables.items():
            values = np.asarray(var.values)
            span = ""
            if values.dtype.kind in "fiu" and values.size and np.isfinite(values).any():
                finite = values[np.isfinite(values)]
                span = f"{finite.min():.6g} .. {finite.max():.6g}"
            rows.append([name, " x ".join(f"{d}={ds.sizes[d]}" for d in var.dims) or "scalar",
                         var.attrs.get("units", ""), span, var.attrs.get("long_name", "")])
        attrs = [(k, v if len(str(v)) < 300 else str(v)[:300] + "...") for k, v in ds.attrs.items()]
        return ("<h3>Variables</h3>" + page.table(["variable", "shape", "units", "range", "long_name"], rows) +
                "<h3>Attributes</h3>" + page.table(["attribute", "value"], attrs))


def _npz(page: _Page, path: Path) -> str:
    import numpy as np
    try:
        with np.load(path, allow_pickle=False) as z:
            rows = [[k, "x".join(map(str, z[k].shape)) or "scalar", str(z[k].dtype)] for k in z.files]
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one line
        raise FileFormatError(f"{path}: not a readable .npz file ({exc})") from None
    return page.table(["array", "shape", "dtype"], rows)


def _text(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines()
    more = f"\n... {len(lines) - MAX_TEXT_LINES} more lines in the file" if len(lines) > MAX_TEXT_LINES else ""
    return f"<pre>{html.escape(chr(10).join(lines[:MAX_TEXT_LINES]) + more)}</pre>"


# ------------------------------------------------------------------ the page


def build_report(folder: str | Path, exclude: Iterable[Path] = ()) -> tuple[str, dict[str, int]]:
    """The HTML text of ``folder``'s report, and counts of what it holds (figures, tables, files)."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    skip = {Path(p).resolve() for p in exclude}
    files = sorted((p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                    and p.resolve() not in skip and p.suffix.lower() != ".html"),
                   key=lambda p: (len(p.relative_to(folder).parts), p.relative_to(folder).as_posix()))
    page = _Page(folder)
    intro = folder / "report.md"
    if intro in files:
        page.parts.append(_markdown(page, intro))
        files.remove(intro)
    others = []
    for path in files:
        rel = path.relative_to(folder)
        suffix = path.suffix.lower()
        if suffix == ".png":
            if path.resolve() not in page.shown:
                page.section(rel.as_posix(), _anchor(rel), page.figure(path, rel.as_posix()))
            continue
        render = {".csv": lambda p: _csv(page, p), ".json": lambda p: _json(page, p),
                  ".nc": lambda p: _netcdf(page, p), ".npz": lambda p: _npz(page, p)}.get(suffix)
        if render is None and suffix in TEXT_SUFFIXES:
            render = _text
        if render is None:
            others.append([rel.as_posix(), path.stat().st_size])
            continue
        page.section(rel.as_posix(), _anchor(rel), render(path))
    if others:
        page.section("Other files", "other-files", page.table(["file", "bytes"], others))
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    toc = "".join(f'<li><a href="#{html.escape(a)}">{html.escape(t)}</a></li>' for a, t in page.toc)
    doc = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           '<meta name="viewport" content="width=device-width, initial-scale=1">'
           f"<title>pycircuits report: {html.escape(folder.name)}</title><style>{_STYLE}</style></head><body>"
           f"<h1>pycircuits report: {html.escape(folder.name)}</h1>"
           f'<p class="meta">{len(files) + (intro.exists())} files; written {created} by pycircuits '
           f"{html.escape(__version__)}. Click a column's header to sort.</p>"
           + (f"<nav><ul>{toc}</ul></nav>" if toc else "") + "\n".join(page.parts) +
           f"<script>{_SCRIPT}</script></body></html>\n")
    return doc, {"figures": page.n_figures, "tables": page.n_tables, "files": len(files) + intro.exists()}


def write_report(folder: str | Path, output: str | Path | None = None) -> tuple[Path, dict[str, int]]:
    """Write ``folder``'s report to ``output`` (default ``FOLDER/report.html``); return it and the counts."""
    out = Path(output) if output is not None else Path(folder) / "report.html"
    check_output(out, suffixes=(".html", ".htm"), what="the report")
    text, counts = build_report(folder, exclude=(out,))
    return atomic_write_text(out, text), counts

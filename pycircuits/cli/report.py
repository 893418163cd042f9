"""``pycircuits report``: one self-contained HTML file of an output folder."""

from __future__ import annotations

import click


@click.command("report")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="the HTML file [default: FOLDER/report.html]")
def report(folder: str, output: str | None) -> None:
    """One HTML file of FOLDER's figures, tables and files: images embedded, tables sortable, no URLs."""
    from ..htmlreport import write_report
    out, counts = write_report(folder, output)
    click.echo(f"wrote {out}: {counts['figures']} figures, {counts['tables']} tables from {counts['files']} files "
               f"({out.stat().st_size / 1e6:.1f} MB)")


commands = [report]

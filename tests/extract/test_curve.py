"""TransferCurve: exact file round-trip, refusal of bad files, interpolation,
inversion and device-to-device sampling."""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pycircuits.errors import FileFormatError, UsageError
from pycircuits.extract.curve import SCHEMA_VERSION, TransferCurve

matplotlib.use("Agg")


def bits(value: object) -> object:
    """Bit-exact image of a value: floats as hex (so -0.0 != 0.0, NaN == NaN)."""
    if isinstance(value, np.ndarray):
        return [float.hex(v) for v in value.ravel().tolist()], value.shape
    if isinstance(value, float):
        return float.hex(value)
    if isinstance(value, dict):
        return {k: bits(v) for k, v in value.items()}
    if isinstance(value, list):
        return [bits(v) for v in value]
    return value


def assert_identical(a: TransferCurve, b: TransferCurve) -> None:
    for f in dataclasses.fields(TransferCurve):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        assert type(va) is type(vb), f.name
        assert bits(va) == bits(vb), f.name


def drift_curve(**kwargs) -> TransferCurve:
    """PCM conductance G(t) = G0 (t/t0)**-nu over six decades (decreasing, log-x)."""
    t = np.geomspace(1e-6, 1.0, 25)
    return TransferCurve("pcm-drift", t, "s", 20e-6 * (t / 1e-6) ** -0.05, "S", **kwargs)


def monte_carlo_curve(n_samples: int = 400, seed: int = 3) -> tuple[TransferCurve, np.ndarray]:
    """Delay vs capacitance; each device scales the RC law by its own log-normal factor."""
    rng = np.random.default_rng(seed)
    c = np.geomspace(10e-15, 10e-12, 13)
    device = np.exp(rng.normal(0.0, 0.15, n_samples))
    samples = 0.69 * 50e3 * c[:, None] * device[None, :]
    curve = TransferCurve.from_samples("denram-delay", c, samples, "F", "s", seed=seed)
    return curve, device


def full_curve() -> TransferCurve:
    curve, _ = monte_carlo_curve(n_samples=6)
    samples = curve.samples.copy()
    samples[2, 1] = np.nan  # a failed Monte Carlo run
    y = curve.y.copy()
    y[0] = -0.0
    return dataclasses.replace(
        curve,
        y=y,
        samples=samples,
        x_name="C_delay",
        y_name="delay",
        recipe="denram-delay",
        circuit="denram",
        params={"vdd": 1.8, "w_um": [0.42, 1.0], "nested": {"n": 3, "off": None}, "bad": math.inf},
        ngspice_version="42",
        pdk="generic130",
        corner="tt",
        netlist_hash="sha256:0123abcd",
        extra={"nu": 0.05, "r2": math.nan, "tau_s": 1.0000000000000002e-9},
    )


# --------------------------------------------------------------- file format


def test_json_round_trip_is_bit_exact_with_nan_inf_and_negative_zero(tmp_path):
    curve = full_curve()
    path = tmp_path / "delay.json"
    curve.to_json(path)
    back = TransferCurve.from_json(path)
    assert_identical(curve, back)
    assert back.schema_version == SCHEMA_VERSION
    assert back.log_x is True


def test_json_file_is_strict_json_and_stores_log_x():
    text = json.dumps(drift_curve().to_dict(), allow_nan=False)
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict constant {c}"))
    assert data["log_x"] is True
    assert data["schema_version"] == 1
    assert data["percentiles"] == {}


finite = st.floats(allow_nan=False, allow_infinity=False)
anything = st.floats(allow_nan=True, allow_infinity=True)
labels = st.text(max_size=8).filter(lambda s: s not in ("NaN", "Infinity", "-Infinity"))
scalars = st.one_of(anything, st.integers(-(2**60), 2**60), labels, st.booleans(), st.none())


@st.composite
def curves(draw) -> TransferCurve:
    x = sorted(draw(st.sets(finite, min_size=2, max_size=8)))
    n = len(x)
    values = st.lists(anything, min_size=n, max_size=n)
    percentiles = draw(st.dictionaries(st.sampled_from([5, 25, 75, 95]), values, max_size=4))
    samples = draw(
        st.none()
        | st.integers(1, 3).flatmap(
            lambda m: st.lists(st.lists(anything, min_size=m, max_size=m), min_size=n, max_size=n)
        )
    )
    return TransferCurve(
        draw(labels),
        x,
        draw(labels),
        draw(values),
        draw(labels),
        percentiles=percentiles,
        samples=samples,
        params=draw(st.dictionaries(labels, scalars | st.lists(scalars, max_size=3), max_size=4)),
        seed=draw(st.none() | st.integers(0, 2**63)),
        extra=draw(st.dictionaries(labels, anything, max_size=3)),
        log_x=draw(st.sampled_from([False, None])),
    )


@settings(max_examples=150, deadline=None)
@given(curves())
def test_hypothesis_any_curve_round_trips_bit_exact_through_a_file(curve):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.json"
        curve.to_json(path)
        assert_identical(curve, TransferCurve.from_json(path))
    assert_identical(curve, TransferCurve.from_dict(json.loads(json.dumps(curve.to_dict()))))


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "curve.json"
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def edited(change) -> str:
    data = drift_curve().to_dict()
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (edited(lambda d: d.update(schema_version=2)), "unknown TransferCurve schema_version 2"),
        (edited(lambda d: d.pop("schema_version")), "schema_version None"),
        (edited(lambda d: d.pop("y")), "missing keys ['y']"),
        (edited(lambda d: d.update(colour="red")), "unknown keys ['colour']"),
        (edited(lambda d: d.update(y=d["y"][:-1])), "mismatched length"),
        (edited(lambda d: d.update(percentiles={"5": [1.0, 2.0]})), "mismatched length"),
        (edited(lambda d: d.update(samples=[[1.0, 2.0]])), "mismatched length"),
        (edited(lambda d: d.update(schema_version="1")), "schema_version '1'"),
        (edited(lambda d: d.update(x=d["x"][::-1])), "strictly increasing"),
        (edited(lambda d: d.update(name=3)), "name must be a string"),
        (json.dumps(drift_curve().to_dict())[:200], "not JSON (line 1"),
        ("[1, 2, 3]", "a JSON object is expected"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
    ],
    ids=[
        "future_schema",
        "no_schema",
        "missing_y",
        "unknown_key",
        "short_y",
        "short_percentile",
        "short_samples",
        "schema_as_text",
        "decreasing_x",
        "name_not_text",
        "truncated",
        "not_object",
        "binary",
    ],
)
def test_bad_curve_file_refused_with_one_line_naming_file_and_problem(tmp_path, content, problem):
    path = write(tmp_path, content)
    with pytest.raises(FileFormatError) as info:
        TransferCurve.from_json(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert "\n" not in message
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


def test_missing_curve_file_is_a_file_format_error(tmp_path):
    with pytest.raises(FileFormatError, match="cannot read curve"):
        TransferCurve.from_json(tmp_path / "absent.json")


def test_curve_is_frozen_and_its_arrays_read_only():
    curve = drift_curve()
    with pytest.raises(dataclasses.FrozenInstanceError):
        curve.name = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        curve.y[0] = 1.0


# ------------------------------------------------------------- interpolation


def test_log_x_chosen_only_for_positive_grids_spanning_decades():
    assert drift_curve().log_x is True
    assert TransferCurve("c", [1.0, 50.0], "V", [0.0, 1.0], "V").log_x is False
    assert TransferCurve("c", [-1.0, 1e3], "V", [0.0, 1.0], "V").log_x is False
    with pytest.raises(ValueError, match="log_x needs x > 0"):
        TransferCurve("c", [0.0, 1.0], "V", [0.0, 1.0], "V", log_x=True)


def test_power_law_interpolated_in_log_x_matches_law_between_nodes():
    # In log-log a power law is a straight line, which PCHIP on log(x) follows
    # to ~1e-6 with four points per decade, where linear-x would be off by %.
    curve = drift_curve()
    t = np.geomspace(1e-6, 1.0, 997)
    exact = 20e-6 * (t / 1e-6) ** -0.05
    np.testing.assert_allclose(curve(t), exact, rtol=1e-5)
    np.testing.assert_array_equal(curve(curve.x), curve.y)


def test_monotone_curve_stays_monotone_between_nodes_and_holds_ends_outside():
    x = np.array([0.0, 0.1, 0.2, 1.0, 1.1, 3.0])
    y = np.array([0.0, 0.01, 0.5, 0.51, 2.0, 2.01])  # steps that overshoot a spline
    curve = TransferCurve("step", x, "V", y, "A")
    dense = curve(np.linspace(0, 3, 3001))
    assert curve.is_monotone
    assert np.all(np.diff(dense) >= 0)
    assert curve(-1.0) == 0.0 and curve(10.0) == 2.01


@pytest.mark.parametrize(
    "curve",
    [
        TransferCurve(
            "cubic",
            np.linspace(-1, 1, 11),
            "V",
            np.linspace(-1, 1, 11) ** 3 + 0.1 * np.linspace(-1, 1, 11),
            "A",
        ),
        drift_curve(),
        TransferCurve("tanh", np.linspace(-3, 3, 9), "V", -np.tanh(np.linspace(-3, 3, 9)), "V"),
    ],
    ids=["increasing_linear_x", "decreasing_log_x", "decreasing_linear_x"],
)
def test_inverse_of_curve_returns_x_within_1e_minus_6(curve):
    x = np.concatenate([curve.x, np.linspace(curve.x[0], curve.x[-1], 1001)])
    if curve.log_x:
        x = np.concatenate([x, np.geomspace(curve.x[0], curve.x[-1], 1001)])
    back = curve.inverse(curve(x))
    assert back.shape == x.shape
    # atol only matters at x = 0, where a relative tolerance is empty
    np.testing.assert_allclose(back, x, rtol=1e-6, atol=1e-12 * np.max(np.abs(curve.x)))
    assert isinstance(curve.inverse(float(curve.y[3])), float)
    assert curve.inverse(float(curve.y[3])) == pytest.approx(curve.x[3], rel=1e-12)


def test_inverse_refuses_y_outside_the_curve():
    curve = drift_curve()
    with pytest.raises(ValueError, match="within"):
        curve.inverse(curve.y.max() * 1.01)
    with pytest.raises(ValueError, match="within"):
        curve.inverse([curve.y[3], np.nan])


def test_non_monotone_curve_interpolates_linearly_and_refuses_inverse():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([0.0, 2.0, 1.0, 4.0])
    curve = TransferCurve("bump", x, "V", y, "V")
    assert not curve.is_monotone
    q = np.linspace(0, 3, 31)
    np.testing.assert_array_equal(curve(q), np.interp(q, x, y))
    assert curve(1.5) == 1.5
    with pytest.raises(ValueError, match="not monotone"):
        curve.inverse(1.0)


def test_flat_segment_is_not_strictly_monotone():
    assert not TransferCurve("flat", [0.0, 1.0, 2.0], "V", [0.0, 1.0, 1.0], "V").is_monotone


# ---------------------------------------------------------------- statistics


def test_from_samples_median_and_percentiles_ignore_failed_runs():
    samples = np.array([[1.0, 2.0, 3.0, np.nan], [np.nan] * 4, [5.0, 6.0, 7.0, 8.0]])
    curve = TransferCurve.from_samples("mc", [0.0, 1.0, 2.0], samples, "V", "s")
    np.testing.assert_array_equal(curve.y, [2.0, np.nan, 6.5])
    np.testing.assert_array_equal(curve.percentiles[95], [2.9, np.nan, 7.85])
    assert sorted(curve.percentiles) == [5, 25, 75, 95]
    assert curve(1.0) == 4.25  # the all-failed point is skipped, not propagated


def test_sample_spread_matches_monte_carlo_5_95_range_within_10_percent():
    curve, _ = monte_carlo_curve()
    rng = np.random.default_rng(0)
    for k in (0, 6, 12):
        draws = curve.sample(curve.x[k], rng, size=20000)
        mc_lo, mc_hi = np.percentile(curve.samples[k], [5, 95])
        lo, hi = np.percentile(draws, [5, 95])
        assert hi - lo == pytest.approx(mc_hi - mc_lo, rel=0.10)


def test_sample_draws_whole_devices_so_off_grid_spread_follows_the_law():
    # Every device is the RC law times its own factor, so at any capacitance
    # the draws are curve(x) times a device factor: the 5-95 % range of the
    # draws divided by curve(x) is that of the factors.
    curve, device = monte_carlo_curve()
    c = np.sqrt(curve.x[4] * curve.x[5])
    draws = curve.sample(c, np.random.default_rng(1), size=20000) / curve(c)
    lo, hi = np.percentile(draws, [5, 95])
    d_lo, d_hi = np.percentile(device / np.median(device), [5, 95])
    assert hi - lo == pytest.approx(d_hi - d_lo, rel=0.10)
    factors = np.unique(np.round(draws, 9))
    assert set(factors) <= set(np.round(device / np.median(device), 9))


def test_sample_never_draws_a_failed_monte_carlo_run():
    curve, _ = monte_carlo_curve(n_samples=50)
    samples = curve.samples.copy()
    samples[:, 10:] = np.nan
    curve = TransferCurve.from_samples("mc", curve.x, samples, "F", "s")
    draws = curve.sample(curve.x[3], np.random.default_rng(2), size=5000)
    assert np.all(np.isfinite(draws))
    assert np.all(
        np.isin(
            np.round(draws / samples[3, :10].max(), 12), np.round(samples[3, :10] / samples[3, :10].max(), 12)
        )
    )


def test_sample_from_percentiles_reproduces_the_5_95_band():
    curve, _ = monte_carlo_curve()
    bands_only = TransferCurve("band", curve.x, "F", curve.y, "s", percentiles=curve.percentiles)
    draws = bands_only.sample(curve.x[6], np.random.default_rng(5), size=40000)
    lo, hi = np.percentile(draws, [5, 95])
    assert hi - lo == pytest.approx(curve.percentiles[95][6] - curve.percentiles[5][6], rel=0.10)
    assert np.median(draws) == pytest.approx(curve.y[6], rel=0.01)


def test_sample_of_signed_curve_uses_additive_spread():
    # An offset voltage around 0 V: ratios to the median are meaningless, so the
    # spread is added; at the zero crossing the draws keep the full spread.
    x = np.linspace(-1, 1, 5)
    offsets = np.random.default_rng(9).normal(0, 0.01, 300)
    samples = x[:, None] + offsets[None, :]
    curve = TransferCurve.from_samples("offset", x, samples, "V", "V")
    draws = curve.sample(0.0, np.random.default_rng(4), size=20000)
    lo, hi = np.percentile(draws, [5, 95])
    mc_lo, mc_hi = np.percentile(samples[2], [5, 95])
    assert hi - lo == pytest.approx(mc_hi - mc_lo, rel=0.10)


def test_sample_is_reproducible_and_shaped_size_then_x():
    curve, _ = monte_carlo_curve()
    x = curve.x[[2, 3, 7]]
    a = curve.sample(x, np.random.default_rng(8), size=(4, 5))
    b = curve.sample(x, 8, size=(4, 5))
    assert a.shape == (4, 5, 3)
    np.testing.assert_array_equal(a, b)


def test_sample_without_spread_returns_the_median():
    curve = drift_curve()
    np.testing.assert_array_equal(curve.sample(curve.x, 0), curve.y)


# ---------------------------------------------------------------------- plot


def test_plot_draws_median_bands_and_dashed_analytic_law():
    import matplotlib.pyplot as plt

    curve, _ = monte_carlo_curve()
    law = lambda c: 0.69 * 50e3 * c  # noqa: E731
    ax = curve.plot(analytic=law)
    median, analytic = ax.get_lines()
    np.testing.assert_array_equal(median.get_ydata(), curve.y)
    assert analytic.get_linestyle() == "--"
    np.testing.assert_allclose(analytic.get_ydata(), law(analytic.get_xdata()))
    assert len(ax.collections) == 2  # 5-95 and 25-75 bands
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "x [F]"
    plt.close(ax.figure)

"""Bad or extreme input never hangs, crashes or returns garbage: it ends quickly in a ``ValueError``
naming the parameter (issue 9). Every test here is cheap: the refusals happen before any work."""

import json
import time
import warnings
import zipfile

import numpy as np
import pytest

import hjbsolve as hs
from hjbsolve import _mc_kernels as K
from hjbsolve.cli import main
from hjbsolve.montecarlo import _PATH_ARRAYS

MB = hs.paper_model("brownian")


def _quick(fn, match):
    """``fn()`` raises a ``ValueError`` matching ``match`` before doing the work: these refusals take
    well under a second; 30 s separates them from the minutes the work itself would take, with room
    for a loaded machine."""
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        fn()
    assert time.perf_counter() - t0 < 30.0


# ----------------------------------------------------------------------------- fill rates
class _Plain:
    """A policy with only ``quotes``: -30 everywhere, or only away from ``q = 0``."""

    def __init__(self, everywhere):
        self.everywhere = everywhere

    def quotes(self, t, q, s):
        d = np.full(np.shape(q), -30.0) if self.everywhere else np.where(np.asarray(q) == 0, 1.0, -30.0)
        return d, d.copy()


@pytest.mark.parametrize("model, policy", [
    (MB, hs.ConstantSpread(-30.0)),
    (MB, hs.InventorySkew(-30, 0)),
    (MB, _Plain(everywhere=True)),
    (MB, _Plain(everywhere=False)),          # aggressive only after the first fill
    (MB.replace(A=1e12), hs.ConstantSpread(1.0)),
], ids=["constant", "skew", "plain", "plain-after-fill", "A=1e12"])
def test_unsimulable_fill_rates_are_refused(model, policy):
    _quick(lambda: hs.simulate(model, policy, n_paths=10, n_steps=10, progress=False), "fill rate")


def test_simulation_size_is_bounded():
    _quick(lambda: hs.simulate(MB, hs.ConstantSpread(1.0), n_paths=10**13, n_steps=10, progress=False), "n_paths")
    _quick(lambda: hs.simulate(MB, hs.ConstantSpread(1.0), n_paths=10, n_steps=10**12, progress=False), "n_steps")


# ----------------------------------------------------------------------------- problem sizes
@pytest.mark.parametrize("call, match", [
    (lambda: hs.solve(hs.paper_model("brownian", T=1e6)), r"T=1e\+06"),
    (lambda: hs.solve(MB.replace(alpha=-50)), "q_max"),
    (lambda: hs.solve(MB.replace(A=1e300)), "q_max"),
    (lambda: hs.solve(MB, q_max=10**15), "q_max"),
    (lambda: hs.solve(MB, n_steps=10**15), "n_steps"),
    (lambda: hs.evaluate(MB, hs.ConstantSpread(1.0), q_max=10, n_steps=10**15), "n_steps"),
    (lambda: hs.solve(MB, tol=1e-300), "tol"),
    (lambda: hs.solve(hs.paper_model("ou"), s_range=(-1e300, 1e300)), "s_range"),
    (lambda: hs.solve(hs.paper_model("ou", k=50)), "price nodes"),
], ids=["T", "alpha", "A", "q_max", "n_steps", "evaluate-n_steps", "tol", "s_range", "ou-k50"])
def test_absurd_sizes_are_refused_before_any_work(call, match):
    _quick(call, match)


# ----------------------------------------------------------------------------- loading
def _solution():
    return hs.solve(MB, q_max=5, n_steps=10, compiled=False)


def _simulation():
    n, rng = 6, np.random.default_rng(0)
    arrays = {name: rng.normal(size=(n, K.N_CONTROLS) if name == "controls" else n) for name in _PATH_ARRAYS}
    for name in ("q_final", "q_min", "q_max", "n_ask", "n_bid"):
        arrays[name] = rng.integers(-3, 3, n)
    t = np.linspace(0.0, MB.T, 4)
    paths = hs.montecarlo.RecordedPaths(t, *(rng.normal(size=(2, 4)) for _ in range(5)))
    return hs.SimulationResult(**arrays, model=MB, settings={"n_paths": n}, paths=paths)


def _rewrite(src, dst, change):
    with np.load(src, allow_pickle=False) as f:
        d = {k: f[k] for k in f.files}
    change(d)
    np.savez(dst, **d)
    return dst


def _nan(key):
    def change(d):
        d[key] = d[key].astype(float)
        d[key].flat[0] = np.nan
    return change


def _transpose(key):
    def change(d):
        d[key] = np.ascontiguousarray(np.swapaxes(d[key], 0, -1))
    return change


def _meta(**kw):
    def change(d):
        meta = json.loads(str(d["meta"]))
        meta.update(kw)
        d["meta"] = np.array(json.dumps(meta))
    return change


@pytest.mark.parametrize("kind", ["solution", "simulation"])
def test_loaders_check_what_they_read(tmp_path, kind):
    obj, cls = (_solution(), hs.Solution) if kind == "solution" else (_simulation(), hs.SimulationResult)
    good = obj.save(tmp_path / "good.npz")
    back = cls.load(good)
    assert type(back) is cls
    main_array, two_d = ("g", "g") if kind == "solution" else ("objective", "controls")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "text.npz"
    text.write_text("not a file of hjbsolve\n")
    cases = {
        truncated: "not a readable",
        text: "not a readable",
        tmp_path / "missing.npz": "no such file",
        _rewrite(good, tmp_path / "nan.npz", _nan(main_array)): f"'{main_array}'",
        _rewrite(good, tmp_path / "transposed.npz", _transpose(two_d)): f"'{two_d}'",
        _rewrite(good, tmp_path / "format.npz", _meta(format="other/9")): "'format'",
        _rewrite(good, tmp_path / "model.npz", _meta(model={"price": {"kind": "brownian", "sigma": 0.5}})):
            "'model'",
    }
    if kind == "simulation":
        cases[_rewrite(good, tmp_path / "time.npz", _nan("paths_t"))] = "'t'"
        cases[_rewrite(good, tmp_path / "est.npz", _meta(estimator="mean"))] = "'estimator'"
    for path, match in cases.items():
        with pytest.raises(ValueError, match=match) as e:
            cls.load(path)
        assert str(path) in str(e.value)


def test_a_truncated_file_is_not_a_bad_zip(tmp_path):
    good = _simulation().save(tmp_path / "r.npz")
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ValueError):
        try:
            hs.SimulationResult.load(cut)
        except zipfile.BadZipFile:  # pragma: no cover - the fault being guarded against
            pytest.fail("BadZipFile leaked")


# ----------------------------------------------------------------------------- policies and queries
T5, S1, Q = np.linspace(0.0, 1.0, 5), np.array([3000.0]), np.ones((5, 1, 7))


@pytest.mark.parametrize("args, match", [
    ((np.array([0, np.nan, 0.5, 0.75, 1]), S1, -3, 3, Q, Q), "t must be finite"),
    ((T5[::-1], S1, -3, 3, Q, Q), "strictly increasing"),
    ((T5, S1, -3.0, 3, Q, Q), "q_min must be an integer"),
    ((T5, S1, 3, -3, Q, Q), "q_min must be <"),
    ((T5, S1, -3, 3, Q[..., :5], Q), "ask must have shape"),
    ((T5, S1, -3, 3, Q + 1j, Q), "ask must be a real"),
])
def test_tabulated_policy_validates(args, match):
    with pytest.raises(ValueError, match=match):
        hs.TabulatedPolicy(*args)


@pytest.mark.parametrize("t, q, s, match", [
    (0.0, np.nan, 3000.0, "q must"),
    (0.0, "0", 3000.0, "q must"),
    (0.0, 1 + 1j, 3000.0, "q must"),
    (0.0, -2**63, 3000.0, "q must lie"),
    (np.zeros(3), np.zeros(4, int), 3000.0, r"t, q and s must broadcast.*\(3,\), \(4,\)"),
    (1j, 0, 3000.0, "t must be real"),
    (0.0, 0, "3000", "s must be real"),
])
def test_queries_name_the_bad_argument(t, q, s, match):
    sol = _solution()
    for query in (sol.quotes, sol.value):
        with pytest.raises(ValueError, match=match):
            query(t, q, s)


@pytest.mark.parametrize("call", [
    lambda: hs.Model(price=hs.Brownian(0.5), A=1, k=1, z=0, T=1, foo=3),
    lambda: MB.replace(foo=3),
    lambda: hs.paper_model("ou", foo=3),
], ids=["Model", "replace", "paper_model"])
def test_unknown_model_keywords_are_named(call):
    with pytest.raises(ValueError, match=r"unknown model parameter\(s\) \['foo'\]; allowed: \['price'"):
        call()


@pytest.mark.parametrize("kw, match", [
    (dict(scheme=["strang"]), "scheme must be one of"),
    (dict(t_eval=[[0.5]]), "t_eval must be a 1-d"),
    (dict(t_eval=[2.0]), "t_eval must be"),
    (dict(t_eval="a"), "t_eval must be"),
])
def test_solver_arguments_are_named(kw, match):
    _quick(lambda: hs.solve(MB, q_max=10, **kw), match)


@pytest.mark.parametrize("s_range", [5, (1, 2, 3), "ab", (3005.0, 2995.0)])
def test_s_range_must_be_a_pair(s_range):
    _quick(lambda: hs.solve(hs.paper_model("ou"), q_max=10, s_range=s_range), "s_range")


def test_price_range_names_its_arguments():
    with pytest.raises(ValueError, match="model must be"):
        hs.price_range(None, 3000.0)
    with pytest.raises(ValueError, match="s0"):
        hs.price_range(MB, "a")


# ----------------------------------------------------------------------------- command line
def _one_line_error(capsys):
    err = capsys.readouterr().err
    assert err.startswith("hjbsolve: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"hjbsolve {hs.__version__}"


def test_cli_unusable_out_is_one_line_before_any_work(tmp_path, capsys, monkeypatch):
    import hjbsolve.solver

    monkeypatch.setattr(hjbsolve.solver, "solve", lambda *a, **k: pytest.fail("work started"))
    (tmp_path / "file").write_text("x")
    for cmd in ("solve", "validate", "paper", "article"):
        assert main([cmd, "--out", str(tmp_path / "file" / "sub")]) == 2
        _one_line_error(capsys)


def test_cli_library_errors_are_one_line(tmp_path, capsys, monkeypatch):
    assert main(["solve", "--out", str(tmp_path), "--q-max", "0", "--no-progress"]) == 2
    assert "q_max" in _one_line_error(capsys)
    import hjbsolve.solver

    def fail(*a, **k):
        raise hs.NonFiniteError("non-finite value\nat t=0.5")
    monkeypatch.setattr(hjbsolve.solver, "solve", fail)
    assert main(["solve", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "non-finite value at t=0.5" in _one_line_error(capsys)


# ----------------------------------------------------------------------------- hostile inputs (hangs)
CS5 = hs.ConstantSpread(1.0, q_max=5)


@pytest.mark.filterwarnings("ignore::hjbsolve.BoundWarning")
@pytest.mark.parametrize("call, match", [
    (lambda: hs.evaluate(MB, CS5, q_max=5, tol=1e-300), "tol must be >= 1e-12, got 1e-300"),
    (lambda: hs.solve(MB, value_rtol=1e-14, tol=1e-12, q_max=20), "value_rtol must be >= 1e-10"),
    (lambda: hs.evaluate(MB, CS5, q_max=5, value_rtol=0.0), "value_rtol"),
    (lambda: hs.solve(MB, q_max=5, n_steps=5, t_eval=np.linspace(0, 1, 10**6)), "t_eval must hold at most"),
    (lambda: hs.expansion(hs.paper_model("ou"), 1, n_quad=10**9), "n_quad must be <= 400"),
    (lambda: hs.solve(MB, method="expm", q_max=20000), "q_max=20000"),
    (lambda: hs.simulate(MB, CS5, n_paths=10**6, n_steps=10**5, progress=False), "n_paths=1000000"),
    (lambda: hs.simulate(MB, CS5, n_paths=2, n_steps=10**10, progress=False), r"about 8e\+03 s|about 8000 s"),
    (lambda: hs.simulate(MB, CS5, n_paths=1, n_steps=10, progress=False), r"n_paths must be >= 2"),
    (lambda: hs.simulate(MB.replace(A=1e7), CS5, n_paths=1000, n_steps=10, progress=False), "fill rate"),
], ids=["evaluate-tol", "solve-value_rtol", "evaluate-value_rtol", "t_eval-size", "n_quad", "expm-q_max",
        "simulate-path-steps", "simulate-two-long-paths", "simulate-one-path", "simulate-fills"])
def test_hostile_sizes_are_refused_before_work(call, match):
    _quick(call, match)


@pytest.mark.filterwarnings("ignore::hjbsolve.BoundWarning")
def test_automatic_rounds_share_one_time_budget(monkeypatch):
    """A tolerance the refinement approaches too slowly (here a policy whose fill rates the grading
    does not resolve) is refused by the estimate of all rounds together, not refined for minutes."""
    import hjbsolve.solver.api as api

    monkeypatch.setattr(api, "MAX_SECONDS_AUTO", 1.0)
    with pytest.raises(ValueError, match="estimated for the rounds before"):
        hs.evaluate(MB, hs.ConstantSpread(-5.0, q_max=5), q_max=5)


@pytest.mark.parametrize("kw", [{"k": 1e6}, {"price": hs.Brownian(1e10)}, {"z": 1e300}], ids=["k", "sigma", "z"])
def test_exact_first_step_failure_is_a_named_non_finite_error(kw):
    with pytest.raises(hs.NonFiniteError, match="k·z, k·σ"):
        hs.solve(MB.replace(**kw), q_max=10)


# ----------------------------------------------------------------------------- hostile inputs (files)
def _header_only_npz(path, shape):
    """An npz whose ``g.npy`` header declares ``shape`` but holds no data (a memory bomb)."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("g.npy", buf.getvalue())
        for name in ("t", "s", "q", "meta"):
            b = io.BytesIO()
            np.save(b, np.zeros(3))
            z.writestr(f"{name}.npy", b.getvalue())
    return path


@pytest.mark.parametrize("cls", [hs.Solution, hs.SimulationResult])
def test_hostile_files_are_refused_before_reading(tmp_path, cls):
    bomb = _header_only_npz(tmp_path / "bomb.npz", (10**6, 10**6, 10))
    _quick(lambda: cls.load(bomb), r"field 'g' declares shape \(1000000, 1000000, 10\)")
    npy = tmp_path / "renamed.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.zeros(3))
    _quick(lambda: cls.load(npy), "not a zip archive")
    for bad in (None, 5, b"x.npz"):
        _quick(lambda: cls.load(bad), "path must be a file path")


def test_save_needs_a_path():
    sol = hs.solve(MB, q_max=5, n_steps=5)
    _quick(lambda: sol.save(None), "path must be a file path")


# ----------------------------------------------------------------------------- hostile inputs (models)
@pytest.mark.parametrize("kw, match", [
    ({"price": hs.Brownian(1e300)}, "φ = ε ν σ² overflows"),
    ({"alpha": -1000.0}, r"fill rate A e\^\(−1−k\(z\+α\)\) = e\^1005 overflows"),
    ({"A": {1, 2}}, "A must be a number or a pair"),
    ({"A": {"a": 1}}, "A must be a number or a pair"),
], ids=["sigma", "alpha", "A-set", "A-dict"])
def test_hostile_models_are_named_value_errors(kw, match):
    _quick(lambda: MB.replace(**kw), match)


def test_zero_dimensional_array_is_a_number():
    assert MB.replace(A=np.array(1000.0)).A == 1000.0


class _BadTable:
    def tabulate(self, *args):
        return 5


def test_hostile_policies_and_ranges_are_named_value_errors():
    _quick(lambda: hs.evaluate(MB, _BadTable(), q_max=5), r"_BadTable.tabulate\(\) must return a TabulatedPolicy")
    _quick(lambda: hs.solve(hs.paper_model("ou"), s_range={2999, 3001}), "s_range must be a pair")


# ----------------------------------------------------------------------------- hostile inputs (closed forms)
@pytest.mark.parametrize("make, args", [
    (lambda: hs.expansion(MB.replace(price=hs.Brownian(0.5, drift=1e3)), 1), ("quotes", 0.0, 5)),
    (lambda: hs.expansion(MB.replace(price=hs.Brownian(0.5, drift=1e3)), 1), ("value", 0.0, 5, 3000.0)),
    (lambda: hs.expansion(MB.replace(k=1e3, price=hs.Brownian(0.5, drift=1.0)), 1), ("terms", 0.0)),
    (lambda: hs.expansion(hs.paper_model("ou").replace(k=1e3), 1), ("quotes", 0.0, 5, 3001.0)),
], ids=["drift-quotes", "drift-value", "k-terms", "ou-k"])
def test_expansion_overflow_is_a_named_value_error(make, args):
    e = make()
    _quick(lambda: getattr(e, args[0])(*args[1:]), r"k·\|Δ\| up to .* too large for the closed form")


def test_second_round_of_hostile_inputs_are_named_value_errors():
    """Found by the hostile tests of the 2026-11-30 session: each ends in a ValueError naming the cause."""
    from hjbsolve.solver.schemes import Scheme

    B = hs.paper_model("brownian")
    with pytest.raises(ValueError, match="t_eval has times 0.5 and 0.500000000000001 closer than"):
        hs.solve(B, q_max=10, t_eval=[0.5, 0.5 + 1e-15])
    with pytest.raises(ValueError, match="t_eval must be an array"):
        hs.solve(B, q_max=10, t_eval="0.5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hs.BoundWarning)
        sol = hs.solve(B, q_max=20, n_steps=20)
        with pytest.raises(ValueError, match=r"covers t in \[0, 1\], not \[0, T=2\]"):
            hs.evaluate(B.replace(T=2.0), sol, q_max=20)
        with pytest.raises(ValueError, match=r"ask half-spread δ=-1000 at t=0, whose fill rate e\^1006 per unit time "
                                             r"makes more than 1e\+12 fills .* cannot be evaluated"):
            hs.evaluate(B, hs.ConstantSpread(-1000.0), q_max=20)
    with pytest.raises(ValueError, match="composition must be one of"):
        Scheme("x", "bogus", 2)
    with pytest.raises(ValueError, match="order must be an integer"):
        Scheme("x", "symmetric", 0)


def test_files_saved_without_suffix_load_by_the_same_name(tmp_path):
    """``save("x")`` writes ``x.npz``; ``load("x")`` finds it (both result types)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hs.BoundWarning)
        sol = hs.solve(hs.paper_model("brownian"), q_max=10, n_steps=10)
    sol.save(tmp_path / "x")
    np.testing.assert_array_equal(hs.Solution.load(tmp_path / "x").g, sol.g)
    res = hs.simulate(hs.paper_model("brownian"), hs.ConstantSpread(1.0), n_paths=10, n_steps=10, s0=0.0,
                      progress=False)
    res.save(tmp_path / "y")
    np.testing.assert_array_equal(hs.SimulationResult.load(tmp_path / "y").objective, res.objective)

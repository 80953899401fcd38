"""Model vocabulary: validation, derived quantities, other parametrisations, serialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hjbsolve as hs

GOOD = dict(A=1000.0, k=1.0, z=0.5, T=1.0, eps=1e-3, eta=1.0, nu=1.0, alpha=0.05)


def make(**kw):
    d = dict(GOOD, price=hs.Brownian(0.5))
    d.update(kw)
    return hs.Model(**d)


@pytest.mark.parametrize("name,value", [
    ("A", 0.0), ("A", -1.0), ("k", 0.0), ("k", -2.0), ("T", 0.0), ("T", -1.0), ("eps", -1e-3),
    ("z", -0.1), ("eta", -1.0), ("nu", -1.0), ("A", math.nan), ("k", math.inf), ("alpha", math.nan),
    ("A", "1000"), ("k", None), ("eps", True), ("T", [1.0]),
])
def test_bad_model_parameter_names_itself(name, value):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        make(**{name: value})


@pytest.mark.parametrize("factory,name,value", [
    (lambda v: hs.Brownian(sigma=v), "sigma", -0.5),
    (lambda v: hs.Brownian(sigma=v), "sigma", math.nan),
    (lambda v: hs.OrnsteinUhlenbeck(a=v, mu=3009.0, sigma=0.5), "a", 0.0),
    (lambda v: hs.OrnsteinUhlenbeck(a=v, mu=3009.0, sigma=0.5), "a", -0.1),
    (lambda v: hs.OrnsteinUhlenbeck(a=0.1, mu=v, sigma=0.5), "mu", math.inf),
    (lambda v: hs.OrnsteinUhlenbeck(a=0.1, mu=3009.0, sigma=v), "sigma", -1.0),
])
def test_bad_price_parameter_names_itself(factory, name, value):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        factory(value)


def test_price_must_be_a_process():
    with pytest.raises(ValueError, match="price must be"):
        make(price=0.5)


def test_rebate_is_allowed_and_models_are_frozen():
    m = make(alpha=-0.02)
    assert m.alpha == -0.02
    with pytest.raises(AttributeError):
        m.k = 2.0


def test_penalties_and_delta():
    m = hs.paper_model("ou")
    assert m.running_penalty == pytest.approx(1e-3 * 1.0 * 0.25, rel=1e-15)
    assert m.terminal_penalty == pytest.approx(1e-3 * 1.0 * 0.5, rel=1e-15)
    # Δ = (μ − s)(1 − e^{−a(T−t)}) (paper §4, mean-reverting reading)
    assert m.delta(0.0, 3000.0) == pytest.approx(9.0 * (1 - math.exp(-0.1)), rel=1e-13)
    assert m.delta(1.0, 3000.0) == 0.0
    assert hs.paper_model("brownian").delta(0.3, 3000.0) == 0.0
    assert hs.Brownian(0.5, drift=-0.2).delta(0.3, 3000.0, 1.0) == pytest.approx(-0.2 * 0.7)


def test_ou_moments_against_closed_form_limits():
    p = hs.OrnsteinUhlenbeck(a=1e-9, mu=0.0, sigma=0.7)
    # a → 0: variance → σ² τ (relative error O(aτ))
    assert p.variance(2.0) == pytest.approx(0.49 * 2.0, rel=1e-8)
    q = hs.OrnsteinUhlenbeck(a=3.0, mu=1.0, sigma=0.7)
    assert q.variance(50.0) == pytest.approx(q.stationary_std**2, rel=1e-12)
    rho, c, sd = q.transition(0.2)
    assert rho * 2.0 + c == pytest.approx(q.mean(2.0, 0.2), rel=1e-14)
    assert sd**2 == pytest.approx(q.variance(0.2), rel=1e-14)


def test_roundtrip_dict():
    for m in (hs.paper_model("ou"), hs.paper_model("brownian", alpha=-0.01)):
        assert hs.Model.from_dict(m.to_dict()) == m


def test_from_dict_rejects_unknown_keys():
    d = hs.paper_model("ou").to_dict()
    d["gamma"] = 1.0
    with pytest.raises(ValueError, match="unknown model parameter.*gamma"):
        hs.Model.from_dict(d)
    d = hs.paper_model("ou").to_dict()
    d["price"]["theta"] = 1.0
    with pytest.raises(ValueError, match="unknown price parameter.*theta"):
        hs.Model.from_dict(d)


def test_cartea_jaimungal_mapping():
    m = hs.Model.cartea_jaimungal(sigma=2.0, lam=140.0, kappa=1.5, phi=0.01, terminal_penalty=0.001, T=1.0)
    # fills λ e^{−κδ} = A e^{−k(z+δ)}
    assert m.A * math.exp(-m.k * m.z) == pytest.approx(140.0, rel=1e-14)
    assert math.exp(m.log_rates()[0]) == pytest.approx(140.0, rel=1e-14)
    assert m.running_penalty == pytest.approx(0.01, rel=1e-14)
    assert m.terminal_penalty == pytest.approx(0.001, rel=1e-14)
    # the penalties are set directly: σ = 0 is a valid market (issue: no "sigma must be > 0")
    m0 = hs.Model.cartea_jaimungal(sigma=0.0, lam=140.0, kappa=1.5, phi=0.01, terminal_penalty=0.001, T=1.0)
    assert m0.running_penalty == 0.01 and m0.sigma == 0.0
    with pytest.raises(ValueError, match="^kappa must"):
        hs.Model.cartea_jaimungal(sigma=1.0, lam=1.0, kappa=-1.0, phi=0.1, terminal_penalty=0.0, T=1.0)


def test_cartea_jaimungal_with_prices_in_small_units():
    """κ = 1000 per price unit (a price unit much larger than the spread) is ordinary: nothing overflows,
    and a change of unit changes nothing else: the same market in a price unit 1000× larger (σ, φ,
    ϖ, quotes ÷ 1000; κ × 1000) has quotes 1000× smaller."""
    big = hs.Model.cartea_jaimungal(sigma=0.002, lam=140.0, kappa=1000.0, phi=0.01e-3, terminal_penalty=0.001e-3, T=1.0)
    unit = hs.Model.cartea_jaimungal(sigma=2.0, lam=140.0, kappa=1.0, phi=0.01, terminal_penalty=0.001, T=1.0)
    assert big.log_rates()[0] == pytest.approx(math.log(140.0))
    a = hs.solve(big, q_max=30, method="expm")
    b = hs.solve(unit, q_max=30, method="expm")
    q = np.arange(-10, 11)
    np.testing.assert_allclose(np.array(a.quotes(0.0, q, 0.0)) * 1000.0, np.array(b.quotes(0.0, q, 0.0)), rtol=1e-10)


def test_asymmetric_sides_and_direct_penalties():
    m = hs.Model(price=hs.Brownian(0.3, drift=0.1), A=(200.0, 150.0), k=(1.5, 1.2), z=0.1, T=1.0, phi=0.02, varpi=0.5)
    assert (m.A_plus, m.A_minus, m.k_plus, m.k_minus) == (200.0, 150.0, 1.5, 1.2)
    assert not m.symmetric and m.running_penalty == 0.02 and m.terminal_penalty == 0.5
    assert m.delta(0.25, 100.0) == pytest.approx(0.1 * 0.75)
    assert hs.Model.from_dict(m.to_dict()) == m
    assert hs.Model(price=hs.Brownian(0.3), A=(5.0, 5.0), k=1.0, z=0.0, T=1.0).symmetric   # equal pair: one value
    for bad, name in (((1.0, 2.0, 3.0), "A must be a number or a pair"), ((1.0, -2.0), "A_minus must be > 0")):
        with pytest.raises(ValueError, match=name):
            hs.Model(price=hs.Brownian(0.3), A=bad, k=1.0, z=0.0, T=1.0)
    with pytest.raises(ValueError, match="phi must be >= 0"):
        hs.Model(price=hs.Brownian(0.3), A=1.0, k=1.0, z=0.0, T=1.0, phi=-1.0)


def test_paper_model_takes_a_price_object_and_simulate_starts_at_the_model_s0():
    """``paper_model("ou", price=...)`` overrides the price (was a raw TypeError); ``simulate`` starts at
    the model's ``s0`` when none is given."""
    m = hs.paper_model("ou", price=hs.Brownian(0.3))
    assert m.price == hs.Brownian(0.3) and m.s0 == 3000.0
    res = hs.simulate(m.replace(s0=100.0), hs.ConstantSpread(1.0), n_paths=5, n_steps=5, progress=False)
    assert res.settings["s0"] == 100.0

"""Tests of dlbook.checks: the argument checks and the seed policy shared by the package."""
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from dlbook.checks import as_rng, check_choice, check_int, check_real, check_shape

# ------------------------------------------------------------------------------ check_int

@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3), np.intp(3)])
def test_check_int_accepts_python_and_numpy_integers(value):
    out = check_int(value, "k", low=1)
    assert out == 3 and type(out) is int


@pytest.mark.parametrize("value", [True, False, np.True_, 3.0, np.float64(3.0), "3", None,
                                   Fraction(3, 1), [3]])
def test_check_int_refuses_other_kinds_with_type_error(value):
    with pytest.raises(TypeError, match=r"^k: expected an integer, got .*\(\w+\)$"):
        check_int(value, "k")


@pytest.mark.parametrize("value, low, high, match", [
    (0, 1, None, "k: expected an integer >= 1, got 0"),
    (5, None, 4, "k: expected an integer <= 4, got 5"),
    (np.int64(-1), 0, 3, r"k: expected an integer in \[0, 3\], got -1"),
    (4, 0, 3, r"k: expected an integer in \[0, 3\], got 4"),
])
def test_check_int_range_is_value_error_naming_bounds(value, low, high, match):
    with pytest.raises(ValueError, match=match):
        check_int(value, "k", low=low, high=high)


def test_check_int_bounds_are_inclusive():
    assert check_int(0, "k", 0, 3) == 0 and check_int(3, "k", 0, 3) == 3
    assert check_int(10**30, "big") == 10**30            # no bound, no limit


# ----------------------------------------------------------------------------- check_real

@pytest.mark.parametrize("value", [0.5, np.float64(0.5), np.float32(0.5), Fraction(1, 2)])
def test_check_real_accepts_reals_and_returns_python_float(value):
    out = check_real(value, "lr", low=0, low_open=True)
    assert out == 0.5 and type(out) is float


def test_check_real_accepts_integers():
    assert check_real(2, "x") == 2.0 and check_real(np.int64(2), "x") == 2.0


@pytest.mark.parametrize("value", [True, np.False_, 1 + 0j, np.complex128(1), "0.1", None, [0.1]])
def test_check_real_refuses_other_kinds_with_type_error(value):
    with pytest.raises(TypeError, match=r"^lr: expected a real number, got "):
        check_real(value, "lr")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -np.inf, 10**400])
def test_check_real_refuses_non_finite_with_value_error(value):
    with pytest.raises(ValueError, match=r"^lr: expected a finite number, got "):
        check_real(value, "lr")


@pytest.mark.parametrize("value, kwargs, match", [
    (0.0, dict(low=0, low_open=True), r"lr: expected a finite number > 0, got 0.0"),
    (-1e-9, dict(low=0), r"lr: expected a finite number >= 0, got -1e-09"),
    (1.0, dict(low=0, high=1, high_open=True), r"beta: expected a finite number in \[0, 1\), got 1.0"),
    (2, dict(high=1), r"beta: expected a finite number <= 1, got 2"),
    (0.0, dict(low=0, high=1, low_open=True), r"beta: expected a finite number in \(0, 1\], got 0.0"),
])
def test_check_real_interval_messages(value, kwargs, match):
    name = match.split(":")[0]
    with pytest.raises(ValueError, match=match):
        check_real(value, name, **kwargs)


def test_check_real_closed_ends_are_included():
    assert check_real(0, "x", 0, 1) == 0.0 and check_real(1, "x", 0, 1) == 1.0
    assert check_real(np.nextafter(0, 1), "x", 0, 1, low_open=True) > 0


# --------------------------------------------------------------------------- check_choice

def test_check_choice_returns_the_canonical_choice():
    assert check_choice("tanh", "activation", ("tanh", "sigmoid")) == "tanh"
    out = check_choice(np.str_("sigmoid"), "activation", ("tanh", "sigmoid"))
    assert out == "sigmoid" and type(out) is str
    assert check_choice(np.int64(2), "dim", (1, 2)) == 2
    assert check_choice(None, "reduction", ("mean", None)) is None


def test_check_choice_wrong_value_is_value_error():
    with pytest.raises(ValueError, match=r"^activation: expected one of \('tanh', 'sigmoid'\), got 'relu'$"):
        check_choice("relu", "activation", ("tanh", "sigmoid"))
    with pytest.raises(ValueError, match=r"dim: expected one of \(1, 2\), got 3"):
        check_choice(3, "dim", (1, 2))


@pytest.mark.parametrize("value, choices", [
    (1, ("tanh", "sigmoid")),
    (True, (0, 1)),             # True == 1 in Python, but a bool is not an index
    (1.0, (0, 1)),
    (["tanh"], ("tanh",)),
])
def test_check_choice_wrong_kind_is_type_error(value, choices):
    with pytest.raises(TypeError, match=r"^opt: expected one of .*, got .*\(\w+\)$"):
        check_choice(value, "opt", choices)


# ---------------------------------------------------------------------------- check_shape

def test_check_shape_returns_an_array_and_none_matches_any_size():
    a = check_shape([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "X", (None, 2))
    assert isinstance(a, np.ndarray) and a.shape == (3, 2)
    assert check_shape(np.float64(1.5), "bias", ()).shape == ()
    assert check_shape(np.zeros(4), "w", (4,)).shape == (4,)
    assert check_shape(np.zeros((2, 4)), "W", (np.int64(2), 4)).shape == (2, 4)


@pytest.mark.parametrize("array, shape, match", [
    (np.zeros((3, 3)), (None, 2), r"^X: expected shape \(\*, 2\), got \(3, 3\)$"),
    (np.zeros(2), (None, 2), r"^X: expected shape \(\*, 2\), got \(2,\)$"),
    (np.zeros(3), (4,), r"^X: expected shape \(4,\), got \(3,\)$"),
    (np.zeros((1, 1)), (), r"^X: expected shape \(\), got \(1, 1\)$"),
    ([[1, 2], [3]], (None, 2), r"^X: expected an array of shape \(\*, 2\), got a ragged"),
])
def test_check_shape_mismatch_is_value_error(array, shape, match):
    with pytest.raises(ValueError, match=match):
        check_shape(array, "X", shape)


def test_check_shape_named_sizes_match_anything_and_appear_in_the_message():
    assert check_shape(np.zeros((5, 3)), "X", ("N", 3)).shape == (5, 3)
    with pytest.raises(ValueError, match=r"^X: expected shape \(N, 3\), got \(5, 4\)$"):
        check_shape(np.zeros((5, 4)), "X", ("N", 3))


# --------------------------------------------------------------------------------- as_rng

def test_as_rng_returns_a_generator_unchanged():
    g = np.random.default_rng(5)
    assert as_rng(g) is g                       # the caller's stream is shared, not copied


@pytest.mark.parametrize("seed", [7, np.int64(7), np.uint32(7)])
def test_as_rng_integer_seed_is_reproducible(seed):
    a, b = as_rng(seed), as_rng(seed)
    assert isinstance(a, np.random.Generator) and a is not b
    np.testing.assert_array_equal(a.standard_normal(5), b.standard_normal(5))
    np.testing.assert_array_equal(as_rng(seed).standard_normal(5),
                                  np.random.default_rng(7).standard_normal(5))


def test_as_rng_seed_sequence_and_none():
    ss = np.random.SeedSequence(11)
    np.testing.assert_array_equal(as_rng(ss).random(3), np.random.default_rng(11).random(3))
    a, b = as_rng(None), as_rng(None)            # fresh entropy: two different streams
    assert isinstance(a, np.random.Generator)
    assert not np.array_equal(a.random(4), b.random(4))


@pytest.mark.parametrize("bad", [True, 1.5, "0", [1, 2], np.random.RandomState(0), np.float64(1)])
def test_as_rng_refuses_other_kinds(bad):
    with pytest.raises(TypeError,
                       match=r"^rng: expected a np.random.Generator, an integer seed or None, got "):
        as_rng(bad)


def test_as_rng_negative_seed_is_value_error():
    with pytest.raises(ValueError, match="rng: expected a non-negative integer seed, got -1"):
        as_rng(-1)


# ---------------------------------------------------------------------- the package uses them

def test_sigmoid_neuron_accepts_an_integer_seed():
    """Issue 7 §4: SigmoidNeuron(2, rng=3) used to raise AttributeError."""
    from dlbook.neurons import SigmoidNeuron
    a, b = SigmoidNeuron(2, rng=3), SigmoidNeuron(2, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.weight, b.weight)
    assert a.bias == b.bias
    assert not np.array_equal(a.weight, SigmoidNeuron(2, rng=4).weight)
    with pytest.raises(TypeError, match="rng: expected"):
        SigmoidNeuron(2, rng="3")


def test_perceptron_seed_policy():
    from dlbook.neurons import Perceptron
    np.testing.assert_array_equal(Perceptron(3, rng=np.int64(2)).weight,
                                  Perceptron(3, rng=np.random.default_rng(2)).weight)
    with pytest.raises(TypeError, match="rng: expected"):
        Perceptron(3, rng=2.0)


def test_importing_checks_needs_only_numpy():
    code = ("import sys, dlbook.checks; "
            "print(sorted(m for m in ('matplotlib', 'scipy', 'sklearn', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

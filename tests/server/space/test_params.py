import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperdial.server.errors import InvalidArgument
from hyperdial.server.space import (
    CategoricalParam,
    Condition,
    FloatParam,
    IntParam,
    SearchSpace,
)
from hyperdial.server.space.encoding import decode, decode_coordinate


@pytest.mark.parametrize(
    ("make", "field", "words"),
    [
        (lambda: FloatParam("lr", 1.0, 1.0), "float_range.low", "low < high"),
        (lambda: FloatParam("lr", 2.0, 1.0), "float_range.low", "low < high"),
        (lambda: FloatParam("lr", 0.0, 1.0, log=True), "float_range.low", "log scale"),
        (lambda: FloatParam("lr", -math.inf, 1.0), "float_range.low", "finite"),
        (lambda: FloatParam("lr", 0.0, math.nan), "float_range.high", "finite"),
        (lambda: IntParam("n", 5, 5), "int_range.low", "low < high"),
        (lambda: IntParam("n", 0, 8, log=True), "int_range.low", "log scale"),
        (lambda: CategoricalParam("opt", ()), "categorical.choices", "at least one"),
        (lambda: CategoricalParam("opt", ("a", "a")), "categorical.choices", "repeat"),
        (lambda: IntParam("n", 1, 4, grid_values=(9,)), "grid_values[0]", "outside"),
    ],
)
def test_invalid_parameters_name_the_field(make, field, words) -> None:
    with pytest.raises(InvalidArgument) as caught:
        make()
    assert caught.value.field == field
    assert words in caught.value.reason


def test_space_rejects_duplicates_and_bad_names() -> None:
    with pytest.raises(InvalidArgument, match=r"parameters\[1\]\.name: duplicate parameter 'x'"):
        SearchSpace((FloatParam("x", 0, 1), IntParam("x", 0, 3)))
    with pytest.raises(InvalidArgument, match=r"parameters\[0\]\.name"):
        SearchSpace((FloatParam("has space", 0, 1),))
    with pytest.raises(InvalidArgument, match="at least one parameter"):
        SearchSpace(())


def test_conditions_must_refer_to_an_earlier_parameter() -> None:
    later = IntParam("units_3", 16, 256, condition=Condition("layers", min=3))
    with pytest.raises(InvalidArgument) as caught:
        SearchSpace((later, IntParam("layers", 1, 4)))
    assert caught.value.field == "parameters[0].condition.parent"
    with pytest.raises(InvalidArgument, match="not a parameter declared before"):
        SearchSpace(
            (IntParam("layers", 1, 4), FloatParam("x", 0, 1, condition=Condition("nope", min=1)))
        )


def test_condition_values_must_belong_to_the_parent() -> None:
    space = (CategoricalParam("opt", ("adam", "sgd")),)
    with pytest.raises(InvalidArgument, match=r"condition\.values\[0\].*'rmsprop'"):
        SearchSpace(
            (*space, FloatParam("momentum", 0, 1, condition=Condition("opt", ("rmsprop",))))
        )
    with pytest.raises(InvalidArgument, match="has no order"):
        SearchSpace((*space, FloatParam("momentum", 0, 1, condition=Condition("opt", min=1))))


def test_decode_honours_conditions_in_chains() -> None:
    space = SearchSpace(
        (
            IntParam("layers", 1, 4),
            IntParam("units_3", 16, 256, condition=Condition("layers", min=3)),
            CategoricalParam("act_3", ("relu", "tanh"), condition=Condition("units_3", min=100)),
        )
    )
    low = decode(space, [0.0, 0.99, 0.99])
    assert low == {"layers": 1}
    high = decode(space, [0.99, 1.0, 0.99])
    assert high == {"layers": 4, "units_3": 256, "act_3": "tanh"}


def test_log_scale_is_uniform_in_log_space() -> None:
    lr = FloatParam("lr", 1e-4, 1e-1, log=True)
    assert decode_coordinate(lr, 0.0) == pytest.approx(1e-4)
    assert decode_coordinate(lr, 1 / 3) == pytest.approx(1e-3)
    assert decode_coordinate(lr, 1.0) == pytest.approx(1e-1)


def test_every_integer_gets_an_equal_share() -> None:
    n = IntParam("n", 1, 4)
    counts = dict.fromkeys(range(1, 5), 0)
    for i in range(4000):
        counts[decode_coordinate(n, (i + 0.5) / 4000)] += 1
    assert set(counts.values()) == {1000}


@given(
    low=st.floats(-1e6, 1e6),
    width=st.floats(1e-6, 1e6),
    log=st.booleans(),
    u=st.floats(0, 1),
)
def test_decoded_floats_stay_in_range(low: float, width: float, log: bool, u: float) -> None:
    if log:
        low = abs(low) + 1e-9
    param = FloatParam("x", low, low + width, log=log)
    assert param.contains(decode_coordinate(param, u))


@given(
    low=st.integers(-1000, 1000),
    width=st.integers(1, 10_000),
    log=st.booleans(),
    u=st.floats(0, 1),
)
def test_decoded_ints_stay_in_range(low: int, width: int, log: bool, u: float) -> None:
    if log:
        low = abs(low) + 1
    param = IntParam("n", low, low + width, log=log)
    value = decode_coordinate(param, u)
    assert isinstance(value, int)
    assert param.contains(value)

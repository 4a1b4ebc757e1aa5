"""Model features: floats and integers on [0, 1] (log scales in log space), choices by index."""

import math

from hypothesis import given
from hypothesis import strategies as st

from hyperdial.server.space import SearchSpace
from hyperdial.server.space.features import (
    INACTIVE_NUMERIC,
    canonical,
    from_features,
    layout,
    to_features,
)
from hyperdial.server.space.params import CategoricalParam, Condition, FloatParam, IntParam

SPACE = SearchSpace(
    (
        FloatParam("lr", 1e-4, 1e-1, log=True),
        IntParam("layers", 1, 4),
        IntParam("units", 16, 256, log=True),
        CategoricalParam("optimizer", ("adam", "sgd", "adamw")),
        FloatParam("momentum", 0.0, 0.99, condition=Condition("optimizer", values=("sgd",))),
    )
)


def test_log_scales_are_linear_in_log_space() -> None:
    features = to_features(
        SPACE,
        {
            "lr": 1e-4 * math.sqrt(1e3),
            "layers": 1,
            "units": 64,
            "optimizer": "sgd",
            "momentum": 0.0,
        },
    )
    assert math.isclose(features[0], 0.5)
    assert math.isclose(features[2], math.log(64 / 16) / math.log(256 / 16))
    assert features[3] == 1.0


def test_integers_and_categoricals_are_listed_with_their_allowed_values() -> None:
    columns = layout(SPACE)
    assert sorted(columns.discrete) == [1, 2]
    assert columns.discrete[1] == (0.0, 1 / 3, 2 / 3, 1.0)
    assert len(columns.discrete[2]) == 241
    assert columns.categorical == {3: (0, 1, 2)}


def test_inactive_parameters_take_fillers_and_are_left_out_when_decoding() -> None:
    params = {"lr": 0.01, "layers": 2, "units": 32, "optimizer": "adam"}
    features = to_features(SPACE, params)
    assert features[4] == INACTIVE_NUMERIC
    back = from_features(SPACE, features)
    assert back.keys() == params.keys()
    assert math.isclose(back.pop("lr"), 0.01)
    assert back == {"layers": 2, "units": 32, "optimizer": "adam"}


def test_an_absent_categorical_is_its_own_category() -> None:
    space = SearchSpace(
        (
            IntParam("layers", 1, 2),
            CategoricalParam("act", ("relu", "tanh"), condition=Condition("layers", min=2)),
        )
    )
    assert to_features(space, {"layers": 1}) == [0.0, 2.0]


@given(
    lr=st.floats(1e-4, 1e-1),
    layers=st.integers(1, 4),
    units=st.integers(16, 256),
    optimizer=st.sampled_from(["adam", "sgd", "adamw"]),
    momentum=st.floats(0.0, 0.99),
)
def test_features_round_trip(
    lr: float, layers: int, units: int, optimizer: str, momentum: float
) -> None:
    params = {"lr": lr, "layers": layers, "units": units, "optimizer": optimizer}
    if optimizer == "sgd":
        params["momentum"] = momentum
    back = from_features(SPACE, to_features(SPACE, params))
    assert canonical(SPACE, back)[1:4] == canonical(SPACE, params)[1:4]
    assert math.isclose(back["lr"], lr, rel_tol=1e-9)
    if optimizer == "sgd":
        assert math.isclose(back["momentum"], momentum, rel_tol=1e-9, abs_tol=1e-12)

"""Networks built from a trial's parameters.

Parameter names (a parameter the study does not tune takes the default):

| name | default | meaning |
|---|---|---|
| `model` | `mlp` | `mlp`, or `cnn` for image data (digits as 8x8 images) |
| `hidden_layers` | 2 | MLP hidden layers (CNN: convolution blocks, at most 2) |
| `units` | 64 | neurons per hidden layer; `units_1`, `units_2`, … set one layer each |
| `activation` | `relu` | `relu`, `tanh`, `gelu` or `silu` |
| `dropout` | 0.0 | dropout probability after each hidden layer |
| `batch_norm` | `no` | `yes` adds batch normalization before each activation |
| `channels` | 16 | CNN: channels of the first block (doubled per block) |
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn

ParamValue = float | int | str
MODEL_PARAMS = frozenset(
    {"model", "hidden_layers", "units", "activation", "dropout", "batch_norm", "channels"}
)
_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU}


def _flag(value: ParamValue) -> bool:
    text = str(value).lower()
    if text not in ("yes", "no", "true", "false", "1", "0"):
        raise ValueError(f"batch_norm must be yes or no, got {value!r}")
    return text in ("yes", "true", "1")


def _activation(params: Mapping[str, ParamValue]) -> type[nn.Module]:
    name = str(params.get("activation", "relu"))
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(_ACTIVATIONS)}, got {name!r}")
    return _ACTIVATIONS[name]


def build_model(
    params: Mapping[str, ParamValue],
    features: int,
    outputs: int,
    image_shape: tuple[int, int] | None = None,
) -> nn.Module:
    """The network a trial's parameters describe; ValueError names a bad parameter."""
    kind = str(params.get("model", "mlp"))
    dropout = float(params.get("dropout", 0.0))
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    layers = int(params.get("hidden_layers", 2))
    if kind == "mlp":
        return _mlp(params, features, outputs, layers, dropout)
    if kind == "cnn":
        if image_shape is None:
            raise ValueError("model cnn needs image data (e.g. the digits dataset)")
        return _cnn(params, image_shape, outputs, min(max(layers, 1), 2), dropout)
    raise ValueError(f"model must be mlp or cnn, got {kind!r}")


def _mlp(
    params: Mapping[str, ParamValue], features: int, outputs: int, layers: int, dropout: float
) -> nn.Module:
    if layers < 0:
        raise ValueError(f"hidden_layers must be >= 0, got {layers}")
    activation = _activation(params)
    batch_norm = _flag(params.get("batch_norm", "no"))
    width = int(params.get("units", 64))
    modules: list[nn.Module] = []
    previous = features
    for index in range(1, layers + 1):
        units = int(params.get(f"units_{index}", width))
        modules.append(nn.Linear(previous, units))
        if batch_norm:
            modules.append(nn.BatchNorm1d(units))
        modules.append(activation())
        if dropout:
            modules.append(nn.Dropout(dropout))
        previous = units
    modules.append(nn.Linear(previous, outputs))
    return nn.Sequential(*modules)


def _cnn(
    params: Mapping[str, ParamValue],
    image_shape: tuple[int, int],
    outputs: int,
    blocks: int,
    dropout: float,
) -> nn.Module:
    activation = _activation(params)
    channels = int(params.get("channels", 16))
    modules: list[nn.Module] = [nn.Unflatten(1, (1, *image_shape))]
    previous, side = 1, image_shape[0]
    for block in range(blocks):
        width = channels * 2**block
        modules += [nn.Conv2d(previous, width, 3, padding=1), activation(), nn.MaxPool2d(2)]
        previous, side = width, side // 2
    modules += [nn.Flatten()]
    if dropout:
        modules.append(nn.Dropout(dropout))
    modules.append(nn.Linear(previous * side * side, outputs))
    return nn.Sequential(*modules)

"""PyTorch models of the homework sets, each readable in a few lines."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dllab.errors import ConfigError
from dllab.nn.config import INITS


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Flatten, then Linear layers of ``sizes`` (input, hidden..., classes) with ``activation`` between them."""
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def mnist_cnn(channels: tuple[int, int] = (16, 32), classes: int = 10) -> nn.Sequential:
    """The CNN of the flooding homework (Q5.5): two 5x5 conv (padding 2) + ReLU + 2x2 max-pool blocks, linear.

    Input (N, 1, 28, 28) -> (N, classes).
    """
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 7 * 7, classes),
    )


def make_cnn(c: int = 64, batch_norm: bool = True, classes: int = 10, convs: int = 1) -> nn.Sequential:
    """Myrtle-5 (the mltheoryseminar notebook's CIFAR-10 network), width ``c``.   (N, 3, 32, 32) -> (N, classes)

    conv3x3(3->c)-BN-ReLU, conv(c->2c)-BN-ReLU-pool2, conv(2c->4c)-BN-ReLU-pool2, conv(4c->8c)-BN-ReLU-pool2,
    pool4, flatten, linear(8c->classes). ``batch_norm=False`` drops the BN layers (and gives the convs biases).
    ``convs`` > 1 deepens each of the three pooled groups with ``convs - 1`` more conv(-BN)-ReLU layers at that
    group's width (convs=2: 8 layers with weights instead of 5).
    """

    def block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU(inplace=True))
        if pool:
            layers.append(nn.MaxPool2d(2))
        return layers

    def group(cin: int, cout: int) -> list[nn.Module]:
        extra = [layer for _ in range(convs - 1) for layer in block(cout, cout, False)]
        return [*block(cin, cout, False), *extra, nn.MaxPool2d(2)]

    return nn.Sequential(
        *block(3, c, False), *group(c, 2 * c), *group(2 * c, 4 * c), *group(4 * c, 8 * c),
        nn.MaxPool2d(4), nn.Flatten(), nn.Linear(8 * c, classes),
    )


@torch.no_grad()
def init_weights(model: nn.Module, scheme: str = "default", scale: float = 1.0) -> nn.Module:
    """Re-draw the weights of ``model``'s conv and linear layers (from torch's global generator; biases to 0
    unless ``scheme`` is "default") and multiply them by ``scale``.

    default: PyTorch's own (uniform with std 1/sqrt(3 fan_in), biases uniform too), kept as drawn; kaiming: He et
    al. 2015, normal with std sqrt(2 / fan_in), which keeps a ReLU network's activations at one scale through
    depth; xavier: Glorot & Bengio 2010, normal with std sqrt(2 / (fan_in + fan_out)). Batch-norm layers keep
    weight 1 and bias 0. Returns the model."""
    if scheme not in INITS:
        raise ConfigError(f"init scheme {scheme!r} is not one of {', '.join(INITS)}")
    for m in model.modules():
        if not isinstance(m, (nn.Conv2d, nn.Linear)):
            continue
        if scheme == "kaiming":
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        elif scheme == "xavier":
            nn.init.xavier_normal_(m.weight)
        if scheme != "default" and m.bias is not None:
            m.bias.zero_()
        m.weight.mul_(scale)
    return model


def model_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Forward FLOPs of ``model`` for one input of ``input_shape`` (e.g. (3, 32, 32)): 2 x the multiply-adds of
    its convolutions and linear layers, measured by running it once (batch norm, activations and pooling are
    negligible and not counted). The architecture is read from the model itself, never restated."""
    flops = 0

    def count(module, inputs, output):
        nonlocal flops
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            flops += 2 * output[0].numel() * k
        elif isinstance(module, nn.Linear):
            flops += 2 * module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=next(model.parameters()).device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return flops


def myrtle_flops(c: int, size: int = 32, classes: int = 10) -> int:
    """Forward FLOPs of Myrtle-5 (:func:`make_cnn`, width c) for one image."""
    return model_flops(make_cnn(c, classes=classes), (3, size, size))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_weights(model: nn.Module, path: str | Path, *, hint: str = "") -> None:
    """Load saved weights into ``model``: a state dict, or a dllab checkpoint holding one under ``"model"``
    (e.g. a cifar-train run's ``checkpoints/train.pt``). A missing or unreadable file, or weights of another
    architecture, raise :class:`ConfigError` naming the first mismatch; ``hint`` is appended (how to fix it)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {path} does not exist: give the path of saved weights, e.g. a cifar-train "
                          "run's checkpoints/train.pt")
    device = next(model.parameters()).device
    try:  # weights_only: a checkpoint from elsewhere must not run code when read
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:
        raise ConfigError(f"checkpoint {path} is not a readable PyTorch weights file ({type(e).__name__}); "
                          "give a file written by torch.save of a state dict") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"checkpoint {path} holds no state dict of tensors{hint}")
    own = model.state_dict()
    problems = [f"{k}: {tuple(state[k].shape)} saved, {tuple(v.shape)} in the model"
                for k, v in own.items() if k in state and state[k].shape != v.shape]
    problems += [f"{k} missing from the checkpoint" for k in own if k not in state]
    problems += [f"{k} in the checkpoint but not in the model" for k in state if k not in own]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"checkpoint {path} does not fit the model: {problems[0]}{more}{hint}")
    model.load_state_dict(state)


def flooded(loss_fn, b: float):
    """Flooding (Ishida et al. 2020): |R - b| + b of the mini-batch loss R. Below the flood level b the gradient's
    sign flips, so training ascends back toward b instead of driving the loss to zero. ``b = 0`` is plain R."""

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r = loss_fn(logits, y)
        return (r - b).abs() + b if b > 0 else r

    return loss

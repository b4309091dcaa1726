"""dllab.nn.models: Myrtle-5 (shapes, FLOPs read from the model, the batch-norm switch) and loading weights."""

import pytest
import torch

from dllab.nn.models import count_parameters, make_cnn, mlp, mnist_cnn, model_flops
from dllab.seeding import torch_stream


@pytest.mark.parametrize("c", [4, 16, 64])
def test_myrtle5_shapes(c):
    net = make_cnn(c)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [c, 2 * c, 4 * c, 8 * c]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net) == 4
    assert net[-1].in_features == 8 * c


def test_myrtle_flops_match_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    from dllab.nn.models import myrtle_flops

    for c in (4, 16):
        with FlopCounterMode(display=False) as counter:
            make_cnn(c).eval()(torch.zeros(1, 3, 32, 32))
        assert counter.get_total_flops() == myrtle_flops(c)


def test_myrtle5_without_batch_norm():
    plain = make_cnn(8, batch_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain)
    assert all(m.bias is not None for m in plain if isinstance(m, torch.nn.Conv2d))
    # BN (weight + bias per channel) is replaced by a conv bias (one per channel)
    assert count_parameters(make_cnn(8)) - count_parameters(plain) == 8 + 16 + 32 + 64


def test_load_weights_round_trip_and_clear_errors(tmp_path):
    from dllab.errors import ConfigError
    from dllab.nn.models import load_weights

    with torch_stream(0, "a"):
        saved = make_cnn(4)
    # a dllab checkpoint keeps the weights under "model", beside optimiser state and history
    torch.save({"model": saved.state_dict(), "epoch": 3, "history": [{"epoch": 1, "test_acc": 0.5}]},
               tmp_path / "ckpt.pt")
    torch.save(saved.state_dict(), tmp_path / "plain.pt")
    for name in ("ckpt.pt", "plain.pt"):
        with torch_stream(0, "b"):
            net = make_cnn(4)
        load_weights(net, tmp_path / name)
        for a, b in zip(net.state_dict().values(), saved.state_dict().values(), strict=True):
            assert torch.equal(a, b)

    with pytest.raises(ConfigError, match=r"does not exist"):
        load_weights(make_cnn(4), tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ConfigError, match=r"not a readable PyTorch weights file"):
        load_weights(make_cnn(4), tmp_path / "junk.pt")
    with pytest.raises(ConfigError, match=r"0\.weight: \(4, 3, 3, 3\) saved, \(8, 3, 3, 3\) in the model.*width=8"):
        load_weights(make_cnn(8), tmp_path / "ckpt.pt", hint="; try width=8")
    with pytest.raises(ConfigError, match=r"does not fit the model"):
        load_weights(make_cnn(4, batch_norm=False), tmp_path / "ckpt.pt")


def test_model_flops_of_an_mlp_and_the_mnist_cnn_by_hand():
    assert model_flops(mlp([784, 500, 10]), (1, 28, 28)) == 2 * (784 * 500 + 500 * 10)
    # conv 1->16 5x5 on 28x28, conv 16->32 5x5 on 14x14, linear 32*7*7 -> 10
    assert model_flops(mnist_cnn(), (1, 28, 28)) == 2 * (28 * 28 * 16 * 25 + 14 * 14 * 32 * 16 * 25 + 32 * 49 * 10)


def test_deeper_groups_add_convs_at_each_groups_width():
    # Myrtle-5 at c = 16, counted by hand: convs 3*16*9 + 16*32*9 + 32*64*9 + 64*128*9, BN 2 x 240, head 128*10 + 10
    assert count_parameters(make_cnn(16)) == 97200 + 480 + 1290
    extra = 32 * 32 * 9 + 64 * 64 * 9 + 128 * 128 * 9 + 2 * (32 + 64 + 128)  # one more conv-BN per group
    assert count_parameters(make_cnn(16, convs=2)) == 97200 + 480 + 1290 + extra
    assert list(make_cnn(16).state_dict()) == list(make_cnn(16, convs=1).state_dict())
    assert make_cnn(16, convs=3)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("scheme,std", [("kaiming", lambda fi, fo: (2 / fi) ** 0.5),
                                        ("xavier", lambda fi, fo: (2 / (fi + fo)) ** 0.5),
                                        ("default", lambda fi, fo: (1 / (3 * fi)) ** 0.5)])
def test_init_weights_draws_each_scheme_at_its_scale(scheme, std):
    from dllab.errors import ConfigError
    from dllab.nn.models import init_weights

    for scale in (1.0, 3.0):
        with torch_stream(0, "init"):
            net = init_weights(make_cnn(32, batch_norm=False), scheme, scale)
        conv = net[8]  # conv(128 -> 256): fan_in 1152, fan_out 2304
        assert isinstance(conv, torch.nn.Conv2d)
        assert float(conv.weight.detach().std()) == pytest.approx(scale * std(1152, 2304), rel=0.02)
        if scheme != "default":
            assert float(conv.bias.detach().abs().max()) == 0.0
    with pytest.raises(ConfigError, match="not one of default, kaiming, xavier"):
        init_weights(make_cnn(4), "he")

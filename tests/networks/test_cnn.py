"""Tests of skautodl/networks/cnn.py: the residual CNN family for images."""

import inspect
import itertools

import pytest
import torch
from torch import nn

from skautodl.data.validation import TaskInfo
from skautodl.networks import cnn
from skautodl.networks.cnn import DEFAULTS, STEMS, ResidualCNN, space


def image_task(shape):
    return TaskInfo("multiclass", 3, input_kind="image", image_shape=shape)


def out_side(net, shape):
    """Smaller side of the last feature map for one input of ``shape``."""
    with torch.no_grad():
        return min(net.eval().features(torch.zeros(1, *shape)).shape[-2:])


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 8, 8), (1, 5, 7), (1, 28, 28),
                                   (3, 32, 32), (2, 1, 1), (1, 16, 9)])
@pytest.mark.parametrize("stem", STEMS)
def test_output_shape_for_any_image_size(shape, stem):
    n_inputs = shape[0] * shape[1] * shape[2]
    net = ResidualCNN(n_inputs, 4, shape, n_stages=3, width=4, stem=stem)
    assert net(torch.randn(3, n_inputs)).shape == (3, 4)


@pytest.mark.parametrize(
    "n_stages, width, kernel_size, pooling, stem, channels_last",
    [combo for combo in itertools.product([1, 2, 3], [4], [3, 5], ["max", "avg"],
                                          STEMS, [True, False])
     # every option at least once, without the full product of stages
     if combo[0] == 2 or (combo[2] == 3 and combo[4] == "pool")],
)
def test_every_option_builds_and_trains(n_stages, width, kernel_size, pooling, stem,
                                        channels_last):
    torch.manual_seed(0)
    net = ResidualCNN(2 * 20 * 20, 3, (2, 20, 20), n_stages=n_stages, width=width,
                      kernel_size=kernel_size, pooling=pooling, dropout=0.3,
                      stem=stem, channels_last=channels_last)
    X = torch.randn(4, 800)
    loss = nn.functional.cross_entropy(net(X), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    assert any(isinstance(m, nn.MaxPool2d if pooling == "max" else nn.AvgPool2d)
               for m in net.modules())


def test_stem_downsamples_only_large_images():
    # 28x28: the stem halves the side; 8x8: every stem keeps it
    sides = {stem: out_side(ResidualCNN(784, 2, (1, 28, 28), n_stages=1, width=4,
                                        stem=stem), (1, 28, 28))
             for stem in STEMS}
    assert sides == {"pool": 14, "stride": 14, "plain": 28}
    for stem in STEMS:
        net = ResidualCNN(64, 2, (1, 8, 8), n_stages=1, width=4, stem=stem)
        assert out_side(net, (1, 8, 8)) == 8
    # stages pool while the side is at least 4: 8 -> 4 -> 2, then no more
    net = ResidualCNN(64, 2, (1, 8, 8), n_stages=3, width=4)
    assert out_side(net, (1, 8, 8)) == 2
    assert out_side(ResidualCNN(35, 2, (1, 5, 7), n_stages=3, width=4),
                    (1, 5, 7)) == 2


def test_channels_double_without_1x1_convolutions():
    net = ResidualCNN(784, 10, (1, 28, 28), n_stages=3, width=8)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert all(m.kernel_size == (3, 3) for m in convs)
    assert [m.out_channels for m in convs] == [8, 8, 8, 16, 16, 32, 32]
    assert net.head[-1].in_features == 32


def test_new_layout_is_cheaper_than_the_full_resolution_stem():
    def conv_params(net):
        return sum(p.numel() for m in net.modules() if isinstance(m, nn.Conv2d)
                   for p in m.parameters())

    def macs(net, shape):
        total = []

        def hook(m, i, o):
            total.append(o[0].numel() * m.in_channels * m.kernel_size[0]
                         * m.kernel_size[1])

        hooks = [m.register_forward_hook(hook) for m in net.modules()
                 if isinstance(m, nn.Conv2d)]
        with torch.no_grad():
            net(torch.zeros(1, 784))
        for h in hooks:
            h.remove()
        return sum(total)

    pooled = ResidualCNN(784, 10, (1, 28, 28), n_stages=2, width=32)
    plain = ResidualCNN(784, 10, (1, 28, 28), n_stages=2, width=32, stem="plain")
    assert conv_params(pooled) == conv_params(plain)
    assert macs(pooled, (1, 28, 28)) < macs(plain, (1, 28, 28)) / 3.5


@pytest.mark.parametrize("stem", STEMS)
def test_float64_cast_predicts_like_float32(stem):
    # the library casts modules with .double() for CPU inference
    torch.manual_seed(0)
    net = ResidualCNN(3 * 17 * 17, 5, (3, 17, 17), stem=stem)
    X = torch.randn(6, 3 * 17 * 17)
    net.train()
    net(X)  # move the batch-norm statistics off their initial values
    net.eval()
    with torch.no_grad():
        out32 = net(X)
        net.double()
        out64 = net(X.double())
        net.float()
    assert out64.dtype == torch.float64
    torch.testing.assert_close(out64.float(), out32, rtol=1e-4, atol=1e-5)


def test_input_layout_and_state_dict_round_trip():
    torch.manual_seed(0)
    a = ResidualCNN(3 * 9 * 9, 2, (3, 9, 9), n_stages=2, width=4).eval()
    b = ResidualCNN(3 * 9 * 9, 2, (3, 9, 9), n_stages=2, width=4,
                    channels_last=False).eval()
    b.load_state_dict(a.state_dict())
    X = torch.randn(5, 3 * 9 * 9)
    with torch.no_grad():
        torch.testing.assert_close(a(X), b(X), rtol=1e-4, atol=1e-5)
        # rows are C*H*W in channel-first order, however the module stores it
        torch.testing.assert_close(a(X), a(X.reshape(5, 3, 9, 9)))


@pytest.mark.parametrize("kwargs, match", [
    ({"n_inputs": 60}, r"holds 64 values, but the input has 60"),
    ({"image_shape": (8, 8)}, r"image_shape must be \(C, H, W\)"),
    ({"pooling": "median"}, "pooling must be one of"),
    ({"stem": "conv"}, "stem must be one of"),
    ({"kernel_size": 4}, "kernel_size must be a positive odd int"),
    ({"n_stages": 0}, "n_stages and width must be positive"),
])
def test_bad_arguments_raise_value_error(kwargs, match):
    args = {"n_inputs": 64, "n_outputs": 2, "image_shape": (1, 8, 8), **kwargs}
    with pytest.raises(ValueError, match=match):
        ResidualCNN(**args)


@pytest.mark.parametrize("shape", [None, (1, 8, 8), (1, 28, 28), (3, 32, 32),
                                   (1, 15, 40)])
def test_defaults_are_a_point_of_the_space(shape):
    task = TaskInfo("multiclass", 3) if shape is None else image_task(shape)
    dims = space(task)
    has_stem = shape is None or min(shape[-2:]) >= cnn.STEM_MIN_SIDE
    assert ("module__stem" in dims) == has_stem
    for name, value in DEFAULTS.items():
        if name in dims:
            assert value in dims[name], name
        else:
            assert name == "module__stem" and not has_stem
    # the constructor's defaults are the family defaults
    net = ResidualCNN(64, 2, (1, 8, 8))
    params = inspect.signature(ResidualCNN).parameters
    for name, value in DEFAULTS.items():
        assert params[name[len("module__"):]].default == value
    assert net.head[-1].in_features == DEFAULTS["module__width"] * 4


def test_applies_to_images_only():
    assert cnn.applies(image_task((1, 8, 8)))
    assert not cnn.applies(TaskInfo("binary", 2))

"""Chapter 9.1: composite modules (Inception, residual blocks) and the classic architectures.

Gradient checks and PyTorch parity for the composite modules; parameter counts of the full
networks against the published ones; summary's shapes and multiply-accumulate counts."""
import numpy as np
import pytest
import torch

from dlbook.cnn import (
    BasicBlock,
    Bottleneck,
    Conv2d,
    Inception,
    alexnet,
    googlenet,
    parameter_count,
    resnet18,
    resnet34,
    resnet50,
    summary,
    vgg16,
    zfnet,
)
from dlbook.gradcheck import gradcheck

torch.set_num_threads(1)
tnn = torch.nn


class TorchInception(tnn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        conv = lambda a, b, k: [tnn.Conv2d(a, b, k, padding=k // 2), tnn.ReLU()]
        self.branches = tnn.ModuleList([
            tnn.Sequential(*conv(cin, c1, 1)),
            tnn.Sequential(*conv(cin, c3r, 1), *conv(c3r, c3, 3)),
            tnn.Sequential(*conv(cin, c5r, 1), *conv(c5r, c5, 5)),
            tnn.Sequential(tnn.MaxPool2d(3, 1, 1), *conv(cin, pp, 1))])

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], dim=1)


class TorchBasicBlock(tnn.Module):
    def __init__(self, cin, c, stride):
        super().__init__()
        self.residual = tnn.Sequential(tnn.Conv2d(cin, c, 3, stride, 1, bias=False), tnn.BatchNorm2d(c),
                                       tnn.ReLU(), tnn.Conv2d(c, c, 3, 1, 1, bias=False), tnn.BatchNorm2d(c))
        self.shortcut = (tnn.Identity() if stride == 1 and cin == c else
                         tnn.Sequential(tnn.Conv2d(cin, c, 1, stride, bias=False), tnn.BatchNorm2d(c)))

    def forward(self, x):
        return torch.relu(self.residual(x) + self.shortcut(x))


def _load(ours, theirs):
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})


def _parity(ours, theirs, x, tol=1e-11):
    xt = torch.tensor(x, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    G = np.random.default_rng(5).standard_normal(y.shape)
    yt.backward(torch.from_numpy(G))
    dx = ours.backward(G)
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=tol)
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, tp[name].grad.numpy(), atol=tol, err_msg=name)


def test_inception_matches_torch_and_gradcheck():
    ours = Inception(4, 2, 3, 4, 2, 3, 2, rng=0)
    assert ours.out_channels == 2 + 4 + 3 + 2
    theirs = TorchInception(4, 2, 3, 4, 2, 3, 2).double()
    _load(ours, theirs)
    x = np.random.default_rng(1).standard_normal((2, 4, 6, 6))
    _parity(ours, theirs, x)
    assert gradcheck(Inception(3, 1, 2, 2, 1, 2, 1, rng=0), x[:1, :3, :5, :5]) < 1e-6


@pytest.mark.parametrize("cin,c,stride", [(4, 4, 1), (3, 6, 2)])
def test_basic_block_matches_torch(cin, c, stride):
    ours = BasicBlock(cin, c, stride, rng=0)
    theirs = TorchBasicBlock(cin, c, stride).double()
    _load(ours, theirs)
    x = np.random.default_rng(2).standard_normal((3, cin, 6, 6))
    _parity(ours, theirs, x)
    ours.eval(), theirs.eval()
    _parity(ours, theirs, x)


def test_residual_blocks_gradcheck():
    x = np.random.default_rng(3).standard_normal((2, 4, 5, 5))
    for block in (BasicBlock(4, 4, rng=0), BasicBlock(4, 2, stride=2, rng=0), Bottleneck(4, 2, rng=0),
                  Bottleneck(4, 2, stride=2, rng=0)):
        block.eval()            # BN with running statistics: smooth in x, every parameter matters
        # (1-channel blocks are avoided: a channel that ReLU zeroes makes an exact kink at 0)
        assert gradcheck(block, x) < 1e-6, type(block).__name__


# Published parameter counts. AlexNet: the paper says "60 million"; the exact count of the
# two-GPU network (conv 2, 4, 5 grouped) is 60,965,224. VGG-16 (configuration D): 138,357,544
# (the paper's Table 2 says 138 M). ResNets: the counts of the reference implementation
# (torchvision model documentation). GoogLeNet: Table 1 sums to 6.8 M (weights only, see chapter).
PUBLISHED = {"alexnet": (alexnet, 60_965_224, 0), "vgg16": (vgg16, 138_357_544, 0),
             "resnet18": (resnet18, 11_689_512, 0), "resnet34": (resnet34, 21_797_672, 0),
             "resnet50": (resnet50, 25_557_032, 0), "googlenet": (googlenet, 6_800_000, 0.04)}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_parameter_counts_match_published(name):
    build, published, rel = PUBLISHED[name]
    n = parameter_count(build(rng=0, dtype=np.float32))
    assert abs(n - published) <= rel * published, (name, n)


def test_zfnet_variant_counts_from_the_formula():
    # conv layers: K (F^2 D + 1); fc: out (in + 1)
    convs = [(96, 7, 3), (256, 5, 96), (512, 3, 256), (1024, 3, 512), (512, 3, 1024)]
    fcs = [(4096, 512 * 36), (4096, 4096), (1000, 4096)]
    expected = sum(K * (F * F * D + 1) for K, F, D in convs) + sum(o * (i + 1) for o, i in fcs)
    assert parameter_count(zfnet(rng=0, dtype=np.float32)) == expected


def test_summary_shapes_and_macs_resnet18():
    rows, out = summary(resnet18(rng=0, dtype=np.float32), (1, 3, 224, 224))
    assert out.shape == (1, 1000)
    first = rows[1]
    assert isinstance(first["module"], Conv2d) and first["output"] == (1, 64, 112, 112)
    assert first["macs"] == 112 * 112 * 64 * 3 * 49
    macs = sum(r["macs"] for r in rows)
    assert abs(macs / 1.8e9 - 1) < 0.03           # He et al. 2016, Table 1: 1.8 x 10^9 FLOPs
    assert all("forward" not in vars(r["module"]) for r in rows)    # the tracing hooks are removed


def test_alexnet_shapes_at_227():
    rows, out = summary(alexnet(rng=0, dtype=np.float32), (1, 3, 227, 227))
    convs = [r["output"] for r in rows if isinstance(r["module"], Conv2d)]
    assert convs == [(1, 96, 55, 55), (1, 256, 27, 27), (1, 384, 13, 13), (1, 384, 13, 13), (1, 256, 13, 13)]
    assert out.shape == (1, 1000)

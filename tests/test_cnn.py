"""dlbook.cnn (chapter 9): gradient checks, PyTorch parity (forward and backward, float64, weights
loaded from a torch.nn module's state_dict), output sizes and bad input."""
import numpy as np
import pytest
import torch

from dlbook.cnn import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Flatten,
    LocalResponseNorm,
    MaxPool2d,
    col2im,
    conv_output_size,
    im2col,
)
from dlbook.gradcheck import gradcheck
from dlbook.nn import Module, get_num_threads, no_grad, set_num_threads

torch.set_num_threads(1)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _load_torch(ours, theirs):
    """Copy our parameters (and buffers) into the torch module through its state_dict."""
    state = {k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state)


def _parity(ours, theirs, x, tol=1e-11, seed=1):
    """Forward, input gradient and parameter gradients of ours vs torch (float64)."""
    xt = torch.tensor(x, requires_grad=True)
    ours.zero_grad()
    theirs.zero_grad()
    y = ours(x)
    yt = theirs(xt)
    G = _rng(seed).standard_normal(y.shape)
    yt.backward(torch.from_numpy(G))
    dx = ours.backward(G)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=tol)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), rtol=0, atol=tol, err_msg=name)
    return y


CONV_CASES = [  # in, out, kernel, stride, padding, bias, groups, input H, W
    (3, 4, 3, 1, 0, True, 1, 8, 8),
    (3, 4, 3, 1, 1, True, 1, 7, 9),
    (2, 5, 3, 2, 1, True, 1, 9, 9),
    (2, 3, (3, 2), (2, 1), (1, 0), False, 1, 7, 6),
    (1, 2, 5, 3, 2, True, 1, 11, 10),
    (4, 6, 1, 1, 0, True, 1, 5, 5),
    (4, 6, 3, 1, 1, True, 2, 6, 6),
    (3, 2, (1, 4), (1, 3), (0, 2), False, 1, 5, 9),
    (2, 3, (2, 4), 1, (0, 2), False, 1, 6, 5),     # stride 1: the widened-grid input gradient
    (2, 4, (3, 1), 1, (1, 0), True, 2, 5, 7),
]


@pytest.mark.parametrize("cin,cout,k,s,p,bias,groups,H,W", CONV_CASES)
def test_conv2d_matches_torch(cin, cout, k, s, p, bias, groups, H, W):
    ours = Conv2d(cin, cout, k, s, p, bias=bias, groups=groups, rng=0)
    theirs = torch.nn.Conv2d(cin, cout, k, s, p, bias=bias, groups=groups, dtype=torch.float64)
    _load_torch(ours, theirs)
    _parity(ours, theirs, _rng(2).standard_normal((3, cin, H, W)))


@pytest.mark.parametrize("cin,cout,k,s,p,bias,groups,H,W", CONV_CASES)
def test_conv2d_gradcheck(cin, cout, k, s, p, bias, groups, H, W):
    ours = Conv2d(cin, cout, k, s, p, bias=bias, groups=groups, rng=0)
    assert gradcheck(ours, _rng(3).standard_normal((2, cin, H, W))) < 1e-6


def test_conv2d_input_grad_false_same_parameter_grads():
    a, b = Conv2d(2, 3, 3, padding=1, rng=0), Conv2d(2, 3, 3, padding=1, rng=0)
    x = _rng().standard_normal((2, 2, 6, 6))
    G = _rng(1).standard_normal((2, 3, 6, 6))
    a(x), b(x)
    assert a.backward(G, input_grad=False) is None
    b.backward(G)
    np.testing.assert_array_equal(a.weight.grad, b.weight.grad)


def test_conv2d_float32_stays_float32_and_matches_float64():
    a = Conv2d(3, 4, 3, padding=1, rng=0, dtype=np.float32)
    b = Conv2d(3, 4, 3, padding=1, rng=0)
    x = _rng().standard_normal((2, 3, 5, 5))
    ya = a(x.astype(np.float32))
    assert ya.dtype == np.float32 and a.backward(np.ones_like(ya)).dtype == np.float32
    np.testing.assert_allclose(ya, b(x), atol=1e-5)


def test_conv2d_torch_initialization_bounds():
    layer = Conv2d(8, 16, 3, rng=0)
    bound = 1 / np.sqrt(8 * 9)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.9 * bound
    assert layer.weight.shape == (16, 8, 3, 3) and layer.bias.shape == (16,)


def test_im2col_col2im_are_adjoint():
    rng = _rng()
    x = rng.standard_normal((2, 3, 7, 8))
    cols, (Ho, Wo) = im2col(x, (3, 2), (2, 3), (1, 1))
    assert (Ho, Wo) == (conv_output_size(7, 3, 2, 1), conv_output_size(8, 2, 3, 1))
    c = rng.standard_normal(cols.shape)
    # <im2col(x), c> = <x, col2im(c)>
    assert np.isclose(np.sum(cols * c), np.sum(x * col2im(c, x.shape, (3, 2), (2, 3), (1, 1))))


@pytest.mark.parametrize("k,s,p", [(3, 1, 1), ((3, 2), (2, 3), (1, 1)), (2, 2, 0), ((1, 4), 1, (0, 2))])
def test_im2col_and_col2im_are_torch_unfold_and_fold(k, s, p):
    x = _rng(4).standard_normal((3, 2, 7, 8))
    cols, (Ho, Wo) = im2col(x, k, s, p)
    unfold = torch.nn.functional.unfold(torch.from_numpy(x), k, padding=p, stride=s).numpy()
    np.testing.assert_array_equal(cols, unfold)
    with_ones, _ = im2col(x, k, s, p, ones=True)
    np.testing.assert_array_equal(with_ones[:, :-1], unfold)
    assert np.all(with_ones[:, -1] == 1)
    c = _rng(5).standard_normal(cols.shape)
    fold = torch.nn.functional.fold(torch.from_numpy(c), (7, 8), k, padding=p, stride=s).numpy()
    np.testing.assert_allclose(col2im(c, x.shape, k, s, p), fold, rtol=0, atol=1e-12)


def test_conv2d_stride1_input_gradient_across_image_chunks():
    """The stride-1 input gradient works on a few images at a time: a batch that is not a
    multiple of the chunk gives torch's gradient too."""
    ours = Conv2d(3, 5, 3, padding=1, rng=0)
    theirs = torch.nn.Conv2d(3, 5, 3, padding=1, dtype=torch.float64)
    _load_torch(ours, theirs)
    _parity(ours, theirs, _rng(6).standard_normal((19, 3, 6, 5)))


def test_output_size_rounds_down_as_torch():
    for W1, F, S, P in [(224, 11, 4, 0), (8, 3, 2, 0), (28, 3, 2, 1), (10, 4, 3, 1)]:
        t = torch.nn.Conv2d(1, 1, F, S, P)(torch.zeros(1, 1, W1, W1))
        assert conv_output_size(W1, F, S, P) == t.shape[-1]
        assert Conv2d(1, 1, F, S, P, rng=0)(np.zeros((1, 1, W1, W1))).shape[-1] == t.shape[-1]


POOL_CASES = [(2, None, 0), (3, 2, 1), (3, 1, 0), ((3, 2), (1, 2), (1, 0)), (2, 1, 1)]


@pytest.mark.parametrize("k,s,p", POOL_CASES)
def test_maxpool_matches_torch_and_gradcheck(k, s, p):
    x = _rng(4).standard_normal((2, 3, 9, 8))
    _parity(MaxPool2d(k, s, p), torch.nn.MaxPool2d(k, s, p), x, tol=1e-14)
    assert gradcheck(MaxPool2d(k, s, p), _rng(5).standard_normal((2, 2, 7, 6))) < 1e-6


def test_maxpool_overlapping_windows_accumulate_at_the_argmax():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = 5.0                     # inside all four 3x3 windows (stride 1)
    pool = MaxPool2d(3, stride=1)
    y = pool(x)
    dx = pool.backward(np.ones_like(y))
    assert dx[0, 0, 1, 1] == 4 and dx.sum() == 4


def test_maxpool_ties_go_to_the_first_position_like_torch():
    x = np.ones((1, 1, 4, 4))
    _parity(MaxPool2d(2), torch.nn.MaxPool2d(2), x, tol=0)


@pytest.mark.parametrize("k,s,p", POOL_CASES)
def test_avgpool_matches_torch_and_gradcheck(k, s, p):
    x = _rng(6).standard_normal((2, 3, 9, 8))
    _parity(AvgPool2d(k, s, p), torch.nn.AvgPool2d(k, s, p), x)
    assert gradcheck(AvgPool2d(k, s, p), _rng(7).standard_normal((2, 2, 7, 6))) < 1e-6


@pytest.mark.parametrize("size", [1, (2, 3), (3, 3), (4, 5)])
def test_adaptive_avgpool_matches_torch(size):
    x = _rng(8).standard_normal((2, 3, 7, 9))
    _parity(AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), x)
    assert gradcheck(AdaptiveAvgPool2d(size), x) < 1e-6


def test_flatten_matches_torch():
    x = _rng().standard_normal((2, 3, 4, 5))
    _parity(Flatten(), torch.nn.Flatten(), x, tol=0)
    _parity(Flatten(2, 3), torch.nn.Flatten(2, 3), x, tol=0)
    assert gradcheck(Flatten(), x) < 1e-6


def test_batchnorm_train_and_eval_match_torch():
    rng = _rng(9)
    ours = BatchNorm2d(3, momentum=0.2)
    ours.weight.data[:] = rng.standard_normal(3)
    ours.bias.data[:] = rng.standard_normal(3)
    theirs = torch.nn.BatchNorm2d(3, momentum=0.2, dtype=torch.float64)
    _load_torch(ours, theirs)
    for shift in (0.0, 2.0, -1.0):                      # several training steps: running statistics
        _parity(ours, theirs, rng.standard_normal((4, 3, 5, 6)) * 3 + shift)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), atol=1e-13)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), atol=1e-13)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 3
    ours.eval(), theirs.eval()
    _parity(ours, theirs, rng.standard_normal((2, 3, 4, 4)))
    state = ours.state_dict()
    assert set(state) == set(theirs.state_dict())


def test_batchnorm_gradcheck_train_and_eval():
    bn = BatchNorm2d(3)
    bn.weight.data[:] = [0.5, -1.5, 2.0]
    bn.bias.data[:] = [0.1, 0.2, -0.3]
    x = _rng(10).standard_normal((3, 3, 4, 4))
    assert gradcheck(bn, x) < 1e-6
    bn.eval()
    bn.running_var[:] = [0.5, 2.0, 1.5]
    assert gradcheck(bn, x) < 1e-6


@pytest.mark.parametrize("size,alpha,beta,k", [(5, 5e-4, 0.75, 2.0), (4, 0.3, 0.75, 1.0), (3, 0.5, 0.5, 1.5)])
def test_local_response_norm_matches_torch(size, alpha, beta, k):
    x = _rng(11).standard_normal((2, 7, 3, 4))
    _parity(LocalResponseNorm(size, alpha, beta, k), torch.nn.LocalResponseNorm(size, alpha, beta, k), x)
    assert gradcheck(LocalResponseNorm(size, alpha, beta, k), x) < 1e-6


def test_small_conv_network_end_to_end_matches_torch():
    from dlbook.nn import CrossEntropyLoss, Linear, Sequential, Tanh
    rng = _rng(12)
    ours = Sequential(Conv2d(1, 4, 3, padding=1, rng=0), BatchNorm2d(4), Tanh(), MaxPool2d(2),
                      Conv2d(4, 6, 3, stride=2, rng=1), Tanh(), AvgPool2d(2, stride=1), Flatten(),
                      Linear(6 * 1 * 1, 5, rng=2))
    tnn = torch.nn
    theirs = tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.Tanh(),
                            tnn.MaxPool2d(2), tnn.Conv2d(4, 6, 3, stride=2), tnn.Tanh(),
                            tnn.AvgPool2d(2, stride=1), tnn.Flatten(), tnn.Linear(6, 5)).double()
    _load_torch(ours, theirs)
    x = rng.standard_normal((4, 1, 10, 10))
    y = rng.integers(0, 5, 4)
    loss_fn = CrossEntropyLoss()
    xt = torch.tensor(x, requires_grad=True)
    lt = tnn.functional.cross_entropy(theirs(xt), torch.from_numpy(y))
    lt.backward()
    value = loss_fn(ours(x), y)
    dx = ours.backward(loss_fn.backward())
    assert abs(value - lt.item()) < 1e-12
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), atol=1e-12, err_msg=name)
    errors = gradcheck(ours, x[:2], return_errors=True)
    # the conv bias just before batch norm has no effect in training mode: its gradient is 0
    assert np.abs(ours[0].bias.grad).max() < 1e-12 and errors.pop("0.bias") <= 1.0 + 1e-6
    assert max(errors.values()) < 1e-6
    ours.eval()
    assert gradcheck(ours, x[:2]) < 1e-6


def test_layer_reused_twice_backward_is_lifo():
    conv = Conv2d(2, 2, 3, padding=1, rng=0)
    x1, x2 = _rng(1).standard_normal((1, 2, 5, 5)), _rng(2).standard_normal((1, 2, 5, 5))
    G = _rng(3).standard_normal((1, 2, 5, 5))
    conv(x1), conv(x2)
    conv.backward(G)                                   # consumes the call on x2
    g2 = conv.weight.grad.copy()
    ref = Conv2d(2, 2, 3, padding=1, rng=0)
    ref(x2)
    ref.backward(G)
    np.testing.assert_allclose(g2, ref.weight.grad)
    conv.backward(G)
    with pytest.raises(RuntimeError, match="Conv2d"):
        conv.backward(G)


class _SharedTwice(Module):
    """One Conv2d and one MaxPool2d, each called on two inputs in the same forward pass:
    out = pool(conv(a)) ⊙ pool(conv(b)). Backward walks the four calls in reverse order."""

    def __init__(self):
        self.conv = Conv2d(2, 3, 3, padding=1, rng=0)
        self.pool = MaxPool2d(3, stride=2, padding=1)          # overlapping windows

    def forward(self, a, b):
        ya = self.pool(self.conv(a))
        yb = self.pool(self.conv(b))
        self.save_for_backward(ya, yb)
        return ya * yb

    def backward(self, grad_output):
        ya, yb = self.pop_saved()
        db = self.conv.backward(self.pool.backward(grad_output * ya))     # the later calls first
        da = self.conv.backward(self.pool.backward(grad_output * yb))
        return da, db


def test_conv_and_pool_used_twice_in_one_forward_gradcheck_and_torch():
    rng = _rng(21)
    a, b = rng.standard_normal((2, 2, 7, 6)), rng.standard_normal((2, 2, 7, 6))
    assert gradcheck(_SharedTwice(), a, b, wrt=(0, 1)) <= 1e-7
    ours = _SharedTwice()
    conv_t = torch.nn.Conv2d(2, 3, 3, padding=1, dtype=torch.float64)
    _load_torch(ours.conv, conv_t)
    pool_t = torch.nn.MaxPool2d(3, stride=2, padding=1)
    at, bt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    yt = pool_t(conv_t(at)) * pool_t(conv_t(bt))
    G = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.from_numpy(G))
    ours.zero_grad()
    y = ours(a, b)
    da, db = ours.backward(G)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(da, at.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(db, bt.grad.numpy(), rtol=0, atol=1e-12)
    # the weight gradient is the sum of both calls' contributions, as torch accumulates it
    np.testing.assert_allclose(ours.conv.weight.grad, conv_t.weight.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.conv.bias.grad, conv_t.bias.grad.numpy(), rtol=0, atol=1e-12)
    single = Conv2d(2, 3, 3, padding=1, rng=0)
    single(a)
    single.backward(np.ones((2, 3, 7, 6)))
    assert not np.allclose(single.weight.grad, ours.conv.weight.grad)    # both calls counted
    with pytest.raises(RuntimeError, match="Conv2d"):
        ours.conv.backward(np.ones((2, 3, 7, 6)))                       # nothing left pending


# ----------------------------------------------------------------------------- bad input

def test_conv2d_wrong_channel_count():
    with pytest.raises(ValueError, match=r"x: expected .*\(N, 3, H, W\).*\(2, 4, 8, 8\)"):
        Conv2d(3, 4, 3, rng=0)(np.zeros((2, 4, 8, 8)))
    with pytest.raises(ValueError, match="x: expected an NCHW batch"):
        Conv2d(3, 4, 3, rng=0)(np.zeros((3, 8, 8)))


def test_input_smaller_than_kernel():
    with pytest.raises(ValueError, match=r"padded input \(4 x 4\) is smaller than the kernel \(5 x 5\)"):
        Conv2d(1, 1, 5, rng=0)(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="smaller than the pooling window"):
        MaxPool2d(3)(np.zeros((1, 1, 2, 2)))


@pytest.mark.parametrize("stride", [0, -1, (1, 0)])
def test_non_positive_stride(stride):
    with pytest.raises(ValueError, match=r"stride: expected values >= 1"):
        Conv2d(1, 1, 3, stride=stride, rng=0)
    with pytest.raises(ValueError, match=r"stride: expected values >= 1"):
        MaxPool2d(2, stride=stride)


def test_other_bad_arguments():
    with pytest.raises(TypeError, match="kernel_size: expected an int or a pair"):
        Conv2d(1, 1, 2.5, rng=0)
    with pytest.raises(ValueError, match="padding: expected values >= 0"):
        Conv2d(1, 1, 3, padding=-1, rng=0)
    with pytest.raises(ValueError, match="in_channels: expected a positive integer, got 0"):
        Conv2d(0, 1, 3)
    with pytest.raises(ValueError, match="groups: expected a divisor"):
        Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="padding: expected at most half"):
        MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="num_features: expected a positive integer"):
        BatchNorm2d(0)
    with pytest.raises(ValueError, match="x: expected an NCHW batch of shape \\(N, 3, H, W\\)"):
        BatchNorm2d(3)(np.zeros((2, 2, 4, 4)))
    conv = Conv2d(1, 2, 3, rng=0)
    conv(np.zeros((2, 1, 5, 5)))
    with pytest.raises(ValueError, match="grad_output: expected the shape of the forward output"):
        conv.backward(np.zeros((2, 2, 4, 4)))
    with pytest.raises(ValueError, match=r"out: expected an array of shape \(2, 9, 9\)"):
        im2col(np.zeros((2, 1, 5, 5)), 3, out=np.empty((2, 9, 8)))


def test_a_wrong_grad_output_loses_nothing():
    """A backward call with a wrongly shaped gradient raises and leaves the pending forward
    call in place: the right call afterwards gives the same gradients as without the mistake."""
    x, g = _rng().standard_normal((2, 1, 5, 5)), _rng(1).standard_normal((2, 2, 4, 4))
    for make, g_ok in ((lambda: Conv2d(1, 2, 3, rng=0), g[:, :, :3, :3]),
                       (lambda: MaxPool2d(2, 1), g[:, :1]), (lambda: AvgPool2d(2, 1), g[:, :1])):
        clean, layer = make(), make()
        clean(x)
        layer(x)
        with pytest.raises(ValueError, match="grad_output: expected"):
            layer.backward(np.zeros((2, 2, 9, 9)))
        np.testing.assert_array_equal(layer.backward(g_ok), clean.backward(g_ok))
        for p, q in zip(layer.parameters(), clean.parameters()):
            np.testing.assert_array_equal(p.grad, q.grad)


def _threaded_pass(threads):
    """Forward and backward of a strided grouped conv, a stride-1 conv and an overlapping max
    pool on 5 images with ``threads`` threads in dlbook.nn.parallel_for: outputs and gradients."""
    old = get_num_threads()
    set_num_threads(threads)
    try:
        rng = _rng(0)
        layers = [Conv2d(4, 6, 3, stride=2, padding=1, groups=2, rng=rng),
                  Conv2d(6, 3, (3, 2), padding=1, rng=rng), MaxPool2d(3, 2, padding=1)]
        x = rng.standard_normal((5, 4, 9, 8))
        out = [x]
        for layer in layers:
            out.append(layer(out[-1]))
        g = rng.standard_normal(out[-1].shape)
        for layer in reversed(layers):
            g = layer.backward(g)
            out.append(g)
        return out + [p.grad.copy() for layer in layers for p in layer.parameters()]
    finally:
        set_num_threads(old)


def test_conv_and_pool_threads_give_the_same_result():
    """Any number of threads (uneven chunks; more threads than images): the same outputs and
    gradients, to rounding (the weight gradient is a sum over chunks)."""
    one = _threaded_pass(1)
    for threads in (2, 3, 8):
        for a, b in zip(one, _threaded_pass(threads)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    with pytest.raises(RuntimeError, match="Conv2d.backward"):
        Conv2d(1, 2, 3, rng=0).backward(np.zeros((1, 2, 3, 3)))


def test_conv_work_arrays_do_not_leak_between_calls():
    """Conv2d keeps its im2col matrices and backward work arrays for the next pass
    (dlbook.nn.recycle): interleaved pending calls, a no_grad call in between, and outputs and
    input gradients already returned must not be disturbed. Sizes above the 1 MiB a kept array
    needs (im2col: 16 · 73 · 32 · 32 float64 = 9.6 MB)."""
    rng = _rng(0)
    xs = [rng.standard_normal((16, 8, 32, 32)) for _ in range(3)]
    gs = [rng.standard_normal((16, 8, 32, 32)) for _ in range(2)]

    def alone(i, j):
        conv = Conv2d(8, 8, 3, padding=1, rng=1)
        y = conv(xs[i])
        return y, conv.backward(gs[j]), conv.weight.grad.copy()

    conv = Conv2d(8, 8, 3, padding=1, rng=1)
    y0, y1 = conv(xs[0]), conv(xs[1])
    with no_grad():
        conv(xs[2])
    dx1 = conv.backward(gs[1])
    y1_before, dx1_before = y1.copy(), dx1.copy()
    dx0 = conv.backward(gs[0])
    conv(xs[2])                                       # reuses the kept arrays
    conv.backward(gs[0])
    ref0, ref1, ref2 = alone(0, 0), alone(1, 1), alone(2, 0)
    for got, ref in ((y0, ref0[0]), (dx0, ref0[1]), (y1, ref1[0]), (dx1, ref1[1])):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(y1, y1_before)
    np.testing.assert_array_equal(dx1, dx1_before)
    np.testing.assert_allclose(conv.weight.grad, ref0[2] + ref1[2] + ref2[2], rtol=0, atol=1e-9)

"""Chapter 12, attention over image regions (book/ch12d_image_attention.md): the scene generator
and its captions, the image captioner with attention (gradient check of its hand-written backward
pass), its use with the chapter's decoders, and bad input."""
import numpy as np
import pytest

from dlbook.gradcheck import gradcheck
from dlbook.nn import no_grad
from dlbook.seq2seq import (
    SCENE_COLOURS,
    SCENE_SHAPES,
    SCENE_SIZES,
    SCENE_SLOTS,
    SceneCaptioner,
    greedy_decode,
    parse_scene_caption,
    scene_caption_scores,
    shape_scenes,
)


def reference_render(scene, size):
    """The scene's image drawn again, object by object, from its parsed caption and positions
    (a second, loop-based implementation of the drawing rules of ``shape_scenes``)."""
    img = np.zeros((size, size, 3))
    for obj in scene["objects"]:
        r = SCENE_SIZES[obj["size"]] * size
        for row in range(size):
            for col in range(size):
                dx, dy = col + 0.5 - obj["x"], row + 0.5 - obj["y"]
                inside = {"square": abs(dx) <= r and abs(dy) <= r,
                          "circle": dx * dx + dy * dy <= r * r,
                          "triangle": abs(dy) <= r and 2 * abs(dx) <= dy + r}[obj["shape"]]
                if inside:
                    img[row, col] = np.array(SCENE_COLOURS[obj["colour"]]) * obj["brightness"]
    return img.transpose(2, 0, 1)


@pytest.mark.parametrize("size", [16, 24, 32])
def test_captions_round_trip_to_the_scene_and_the_image(size):
    images, captions, scenes = shape_scenes(60, size, rng=size, noise=0.0)
    assert images.shape == (60, 3, size, size) and images.dtype == np.float32
    relations = set()
    for img, cap, scene in zip(images, captions, scenes):
        parsed = parse_scene_caption(cap)
        assert parsed["relation"] == scene["relation"]
        assert parsed["objects"] == [{k: o[k] for k in ("size", "colour", "shape")} for o in scene["objects"]]
        a, b = scene["objects"]
        dx, dy = b["x"] - a["x"], b["y"] - a["y"]
        if scene["relation"] == "left of":      # named in reading order, clearly side by side
            assert dx > 0 and abs(dx) > abs(dy)
        else:
            assert dy > 0 and abs(dy) > abs(dx)
        relations.add(scene["relation"])
        # each object is drawn, in the colour the caption names, and the two do not touch
        np.testing.assert_allclose(img, reference_render(scene, size), atol=1e-6)
        for obj in scene["objects"]:
            pixel = img[:, int(obj["y"]), int(obj["x"])]
            assert np.argmax(pixel) == np.argmax(SCENE_COLOURS[obj["colour"]])
    assert relations == {"left of", "above"}


def test_generator_is_seeded_and_noise_stays_in_range():
    a = shape_scenes(20, rng=3)
    b = shape_scenes(20, rng=3)
    c = shape_scenes(20, rng=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1] and a[1] != c[1]
    assert a[0].min() >= 0 and a[0].max() <= 1
    clean = shape_scenes(20, rng=3, noise=0.0)[0]
    assert 0.02 < np.abs(a[0] - clean).mean() < 0.08       # noise of sd 0.05 (clipped)
    words = {w for cap in shape_scenes(400, rng=5)[1] for w in cap.split()}
    assert set(SCENE_SHAPES) <= words and set(SCENE_COLOURS) <= words and set(SCENE_SIZES) <= words


def test_caption_scores():
    _, caps, _ = shape_scenes(30, rng=0)
    perfect = scene_caption_scores(caps, caps)
    assert perfect == {k: 1.0 for k in ("caption",) + SCENE_SLOTS}
    junk = scene_caption_scores(["red"] * 30, caps)
    assert all(v == 0.0 for v in junk.values())
    flipped = list(caps)
    first = caps[0].split()
    first[0] = "large" if first[0] == "small" else "small"
    flipped[0] = " ".join(first)
    s = scene_caption_scores(flipped, caps)
    assert s["first size"] == pytest.approx(29 / 30) and s["caption"] == pytest.approx(29 / 30)
    assert s["second size"] == 1.0 and s["relation"] == 1.0


def tiny_model(attention):
    model = SceneCaptioner(9, embed_dim=3, hidden_size=4, channels=(3, 4), attn_size=3,
                           attention=attention, rng=2, dtype=np.float64)
    if attention:       # sharper weights than at initialization: gradients well above round-off
        for p in model.attn.parameters():
            p.data *= 4
    return model


@pytest.mark.parametrize("attention", [True, False])
def test_captioner_gradcheck_float64(attention):
    model = tiny_model(attention)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 2, size=(2, 3, 8, 8))
    tgt_in = np.array([[1, 4, 5, 6], [1, 7, 8, 4]])
    errors = gradcheck(model, images, tgt_in, wrt=(), return_errors=True)
    names = {n for n, _ in model.named_parameters()}
    assert set(errors) == names
    assert any(n.startswith("attn.") for n in names) == attention
    assert max(errors.values()) < 1e-5, errors
    # the check is not vacuous: every parameter (but the padding row) receives a gradient
    model.zero_grad()
    out = model(images, tgt_in)
    model.backward(np.random.default_rng(1).standard_normal(out.shape))
    for name, p in model.named_parameters():
        assert np.abs(p.grad).max() > 0, name


def test_attention_weights_and_decoders():
    model = tiny_model(True)
    images = np.random.default_rng(0).uniform(size=(3, 3, 12, 12))
    logits = model(images, np.array([[1, 4], [1, 5], [1, 6]]))
    model.pop_saved()
    assert logits.shape == (3, 2, 9)
    assert model.last_attention.shape == (3, 2, 9)              # 3 × 3 locations for 12 × 12
    np.testing.assert_allclose(model.last_attention.sum(axis=-1), 1)
    tokens, att = greedy_decode(model, images, max_len=5)
    assert att.shape[:2] == tokens.shape and att.shape[2] == 9
    with no_grad():                                             # greedy = argmax of teacher forcing
        logits = model(images, np.c_[np.ones(3, int), tokens[:, :-1]])
    done = np.cumsum(tokens == 2, axis=1) - (tokens == 2) > 0   # positions after <STOP>
    assert np.all((logits.argmax(axis=-1) == tokens) | done)
    plain = tiny_model(False)
    assert greedy_decode(plain, images, max_len=5)[1] is None
    n_attn = sum(p.data.size for p in model.attn.parameters())
    assert n_attn == 3 * (4 + 4 + 1)
    count = lambda m: sum(p.data.size for p in m.parameters())       # noqa: E731
    assert count(model) - count(plain) == n_attn


def test_bad_input():
    with pytest.raises(ValueError, match="n"):
        shape_scenes(0)
    with pytest.raises(ValueError, match="image_size"):
        shape_scenes(3, image_size=8)
    with pytest.raises(ValueError, match="noise"):
        shape_scenes(3, noise=-0.1)
    with pytest.raises(TypeError, match="image_size"):
        shape_scenes(3, image_size=24.0)
    with pytest.raises(ValueError, match="unknown size 'huge'"):
        parse_scene_caption("huge red circle left of small blue square")
    with pytest.raises(ValueError, match="unknown shape 'star'"):
        parse_scene_caption("small red circle above small blue star")
    with pytest.raises(ValueError, match="expected '<size> <colour> <shape>"):
        parse_scene_caption("small red circle near small blue square")
    with pytest.raises(ValueError, match="expected"):
        parse_scene_caption("")
    with pytest.raises(TypeError, match="caption"):
        parse_scene_caption(None)
    with pytest.raises(ValueError, match="predicted"):
        scene_caption_scores(["a"], ["small red circle above small blue square"] * 2)
    model = tiny_model(True)
    with pytest.raises(ValueError, match="images"):
        model(np.zeros((2, 3, 10, 10)), np.ones((2, 3), int))       # side not a multiple of 4
    with pytest.raises(ValueError, match="images"):
        model(np.zeros((2, 1, 8, 8)), np.ones((2, 3), int))         # not RGB
    with pytest.raises(TypeError, match="images"):
        model(np.zeros((2, 3, 8, 8), dtype=int), np.ones((2, 3), int))
    with pytest.raises(ValueError, match="tgt_in"):
        model(np.zeros((2, 3, 8, 8)), np.ones((3, 3), int))
    with pytest.raises(ValueError, match="channels"):
        SceneCaptioner(9, channels=(4, 4, 4))
    with pytest.raises(RuntimeError):
        tiny_model(True).backward(np.zeros((1, 1, 9)))

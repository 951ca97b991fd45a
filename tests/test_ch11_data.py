"""Chapter 11 data loaders (Brown corpus, Rotten Tomatoes snippets) on small files the tests write,
and truncated backpropagation through time."""
import bz2
import io
import tarfile

import numpy as np
import pytest

import dlbook.data as data
from dlbook.rnn import LSTM, RNN, truncated_bptt


def _write_brown(folder, files):
    path = folder / data.BROWN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            raw = text.encode("utf-8")
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def test_load_brown_parses_and_maps_tags(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    path = _write_brown(tmp_path, {
        "ca01": "\n\n\tThe/at Fulton/np-tl jury/nn said/vbd ``/`` no/at ''/'' ./.\n\n",
        "cb02": "\tHe/pps didn't/dod* go/vb to/to Paris/np$ ,/, 3/cd times/nns ./.\n"
                "\tvoila/fw-nn !/. I'm/ppss+bem here/rb quite/abl\n",
        "README": "not a text",
    })
    monkeypatch.setattr(data, "BROWN_SHA256", data.sha256(path))
    sents = data.load_brown()
    assert [len(w) for w, _ in sents] == [8, 9, 5]
    words, tags = sents[0]
    assert words[:3] == ["The", "Fulton", "jury"]
    assert tags == ["DET", "NOUN", "NOUN", "VERB", ".", "DET", ".", "."]
    assert sents[1][1] == ["PRON", "VERB", "VERB", "PRT", "NOUN", ".", "NUM", "NOUN", "."]
    assert sents[2][1] == ["X", ".", "PRON", "ADV", "ADV"]
    raw = data.load_brown(universal=False)
    assert raw[0][1][1] == "np-tl"
    assert set(t for _, ts in sents for t in ts) <= set(data.UNIVERSAL_TAGS)


def test_universal_tag_unknown():
    with pytest.raises(ValueError, match="unknown Brown tag 'zz'"):
        data.universal_tag("zz")


def test_load_brown_missing_and_corrupt(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="fetch_data"):
        data.load_brown()
    _write_brown(tmp_path, {"ca01": "a/at\n"})
    with pytest.raises(ValueError, match="SHA-256"):
        data.load_brown()


def test_load_rotten_tomatoes(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    path = tmp_path / data.RT_FILE
    path.parent.mkdir(parents=True)
    csv_text = ('category,text,movie_name,has_plot_and_reviews\n'
                'plot,"A long plot, with commas.",m,False\n'
                'fresh,"A three-hour cinema master class.",m,True\n'
                'rotten,"It doesn\'t work.",n,True\n')
    path.write_bytes(bz2.compress(csv_text.encode("utf-8")))
    monkeypatch.setattr(data, "RT_SHA256", data.sha256(path))
    texts, labels = data.load_rotten_tomatoes()
    assert texts == ["A three-hour cinema master class.", "It doesn't work."]
    assert labels.tolist() == [1, 0] and labels.dtype == np.int64
    assert data.tokenize(texts[1]) == ["it", "doesn't", "work", "."]


@pytest.mark.parametrize("cls", [RNN, LSTM])
def test_truncated_bptt(cls):
    """tau = T is exact BPTT; a shorter tau equals BPTT on separate chunks with carried states."""
    rng = np.random.default_rng(0)
    T, N, I, H = 9, 2, 3, 4
    x = rng.standard_normal((T, N, I))
    G = rng.standard_normal((T, N, H))
    m = cls(I, H, rng=1)

    def loss_grad(t0, out):
        g = G[t0:t0 + len(out)]
        return float(np.sum(g * out)), g

    m.zero_grad()
    total, _ = truncated_bptt(m, x, T, loss_grad)
    full = [p.grad.copy() for p in m.parameters()]
    m.zero_grad()
    out, _ = m(x)
    m.backward(G)
    for a, p in zip(full, m.parameters()):
        np.testing.assert_allclose(a, p.grad, rtol=1e-12)
    assert total == pytest.approx(float(np.sum(G * out)))
    # tau = 4: chunks [0, 4), [4, 8), [8, 9) with the state carried as data
    m.zero_grad()
    truncated_bptt(m, x, 4, loss_grad)
    trunc = [p.grad.copy() for p in m.parameters()]
    m.zero_grad()
    hx = None
    for t0 in (0, 4, 8):
        out, hx = m(x[t0:t0 + 4], hx)
        m.backward(G[t0:t0 + 4])
    for a, p in zip(trunc, m.parameters()):
        np.testing.assert_allclose(a, p.grad, rtol=1e-12)
    assert max(np.abs(a - b).max() for a, b in zip(trunc, full)) > 1e-6
    with pytest.raises(ValueError, match="tau"):
        truncated_bptt(m, x, 0, loss_grad)

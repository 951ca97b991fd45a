"""Chapter 13's tasks: the date generator, the Ding pairs, the vocabulary, the sequence loss and the
translator model (gradient check, decoding)."""
import datetime
import re

import numpy as np
import pytest
import torch

from dlbook.data import DATE_FORMATS, load_ding_pairs, random_dates, read_ding_pairs, split_unique
from dlbook.gradcheck import gradcheck
from dlbook.nn import Module
from dlbook.seq2seq import (
    SequenceCrossEntropyLoss,
    Vocab,
    pad_batch,
    teacher_forcing_batch,
    train_seq2seq,
    word_tokens,
)
from dlbook.transformer import Seq2SeqTransformer

STRPTIME = {
    "D Month YYYY": "%d %B %Y", "D Mon YYYY": "%d %b %Y", "DD Mon YY": "%d %b %y",
    "Month D, YYYY": "%B %d, %Y", "Mon D, YYYY": "%b %d, %Y", "Month Dth, YYYY": "%B %d, %Y",
    "the Dth of Month YYYY": "the %d of %B %Y", "Dth Month YYYY": "%d %B %Y",
    "Weekday, Month D, YYYY": "%A, %B %d, %Y", "Wkd D Mon YYYY": "%a %d %b %Y",
    "Weekday D Month YYYY": "%A %d %B %Y", "M/D/YYYY": "%m/%d/%Y", "MM/DD/YY": "%m/%d/%y",
    "D.M.YYYY": "%d.%m.%Y", "DD.MM.YY": "%d.%m.%y", "DD-Mon-YYYY": "%d-%b-%Y", "YYYY/MM/DD": "%Y/%m/%d",
    "YYYYMMDD": "%Y%m%d", "Mon. D 'YY": "%b %d '%y", "Mon D, YY": "%b %d, %y",
    "Month YYYY, Dth": "%B %Y, %d", "Wkd, DD Mon YYYY": "%a, %d %b %Y", "M/D/YY": "%m/%d/%y",
    "YYYY-MM-DD": "%Y-%m-%d",
}


def parse_written_date(text, fmt):
    """An independent reading of a generated text: Python's strptime with the format's pattern
    (ordinals and abbreviation dots removed), two-digit years in 1950-2049."""
    t = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    t = re.sub(r"\b([A-Za-z]{3})\.", r"\1", t)
    d = datetime.datetime.strptime(t, STRPTIME[fmt]).date()
    if "%y" in STRPTIME[fmt]:
        yy = d.year % 100
        d = d.replace(year=1900 + yy if yy >= 50 else 2000 + yy)
    return d


def test_date_generator_round_trips_every_format():
    triples = random_dates(3000, rng=0, with_format=True)
    assert {f for _, _, f in triples} == set(DATE_FORMATS) == set(STRPTIME)
    for text, iso, fmt in triples:
        assert parse_written_date(text, fmt).isoformat() == iso, (text, iso, fmt)
        assert 1950 <= int(iso[:4]) <= 2049
    weekday = [t for t, _, f in triples if f.startswith("Weekday")]
    first_words = [t.split(",")[0].split()[0] for t in weekday]
    cases = {"lower" if w.islower() else "upper" if w.isupper() else "title" for w in first_words}
    assert cases == {"lower", "upper", "title"}
    assert random_dates(5, rng=3) == random_dates(5, rng=3)


def test_date_generator_bad_input():
    with pytest.raises(ValueError, match="two-digit years"):
        random_dates(3, first_year=1900, last_year=2049)
    with pytest.raises(TypeError, match="n"):
        random_dates(2.5)


def test_split_unique_has_no_overlap():
    pairs = random_dates(4000, rng=1, with_format=True)
    train, val, test, n_dup = split_unique(pairs, 300, 500, rng=0)
    assert n_dup == len(pairs) - len({p[0] for p in pairs}) > 0
    srcs = [set(p[0] for p in part) for part in (train, val, test)]
    assert len(val) == 300 and len(test) == 500
    assert not (srcs[0] & srcs[2]) and not (srcs[0] & srcs[1]) and not (srcs[1] & srcs[2])
    assert sum(map(len, srcs)) == len({p[0] for p in pairs})
    with pytest.raises(ValueError, match="exceed"):
        split_unique(pairs[:10], 5, 6)


def test_read_ding_pairs_rules():
    lines = [
        "# comment :: line\n",
        "Er kommt. | Er kommt nicht. :: He is coming. | He is not coming.\n",
        "Hund {m} | Das ist ein Hund. :: dog | That is a dog.\n",
        "Geh!; Lauf! :: Go away!; Run!\n",
        "Ich gehe heute nach Hause. :: I go home today.; I am going home today.\n",
        "Das ist gut/schlecht. :: That is good/bad.\n",
        "A | B. :: only one sense\n",
        "Ich gehe heute nach Hause. :: I go home today.\n",
        "im Vorgriff auf etw. :: in anticipation of sth.\n",
        "Er denkt an etw. :: He thinks of sth.\n",
        "Es war einmal ... :: Once upon a time ...\n",
    ]
    assert read_ding_pairs(lines) == [("Er kommt nicht.", "He is not coming."),
                                      ("Das ist ein Hund.", "That is a dog."),
                                      ("Ich gehe heute nach Hause.", "I go home today.")]


def test_load_ding_pairs_from_the_data_folder():
    pairs = load_ding_pairs()
    assert 15_000 < len(pairs) < 17_000
    assert all(3 <= len(d.split()) <= 25 and e[-1] in ".?!" and d[0].isupper() for d, e in pairs)
    assert not any(d.endswith(" etw.") or e.endswith(" sth.") for d, e in pairs)
    assert len(set(pairs)) == len(pairs)


def test_vocab_and_batches():
    v = Vocab(["abca", "bd"], min_freq=1)
    assert v.itos[:4] == ["<PAD>", "<GO>", "<STOP>", "<UNK>"] and v.itos[4:6] == ["a", "b"]
    ids = v.encode("abz")
    assert ids[-1] == Vocab.unk_idx
    assert v.decode(np.r_[Vocab.go_idx, ids, Vocab.stop_idx, 5]) == ["a", "b", "<UNK>"]
    assert len(Vocab(["abca", "bd"], min_freq=2)) == 6
    assert pad_batch([[5, 6], [7]]).tolist() == [[5, 6], [7, 0]]
    with pytest.raises(ValueError, match="length"):
        pad_batch([[1, 2, 3]], length=2)
    src, tin, tout = teacher_forcing_batch(["ab", "c"], ["1", "12"], Vocab(["abc"]), Vocab(["12"]))
    assert tin[:, 0].tolist() == [1, 1] and tout[0].tolist() == [4, 2, 0] and tout[1].tolist() == [4, 5, 2]
    assert word_tokens("Don’t stop, Straße!") == ["don't", "stop", ",", "straße", "!"]


def test_sequence_loss_matches_torch_ignore_index():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 5, 7))
    target = rng.integers(1, 7, (3, 5))
    target[0, 3:] = 0
    target[2, 1:] = 0
    loss = SequenceCrossEntropyLoss(ignore_index=0, label_smoothing=0.1)
    t_logits = torch.tensor(logits, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(t_logits.reshape(-1, 7), torch.tensor(target).reshape(-1),
                                               ignore_index=0, label_smoothing=0.1)
    assert loss(logits, target) == pytest.approx(t_loss.item(), abs=1e-12)
    t_loss.backward()
    assert np.allclose(loss.backward(), t_logits.grad.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="ignore_index"):
        loss(logits, np.zeros((3, 5), int))


class _Wrapped(Module):
    """Seq2SeqTransformer with fixed integer inputs, differentiated with respect to its parameters."""

    def __init__(self, model, src, tgt):
        self.model, self.src, self.tgt = model, src, tgt

    def forward(self, dummy):
        return self.model(self.src, self.tgt)

    def backward(self, g):
        self.model.backward(g)
        return (None,)


def test_seq2seq_transformer_gradcheck_and_decoding():
    model = Seq2SeqTransformer(9, 8, d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=6, dropout=0.0, rng=0)
    src = np.array([[4, 5, 6, 0], [7, 8, 4, 5]])
    tgt = np.array([[1, 4, 5], [1, 6, 7]])          # padding only in the source (its row gets no gradient)
    err = gradcheck(_Wrapped(model, src, tgt), np.zeros(1), wrt=())
    assert err < 1e-6
    out = model.greedy_decode(src, max_len=5)
    assert out.shape[0] == 2 and out.shape[1] <= 5
    with pytest.raises(ValueError, match="src: expected an integer array"):
        model(src.astype(float), tgt)


def test_padding_does_not_change_the_translation_model_output():
    model = Seq2SeqTransformer(9, 8, d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=8, dropout=0.0, rng=1)
    src, tgt = np.array([[4, 5, 6]]), np.array([[1, 4]])
    a = model(src, tgt)
    b = model(np.array([[4, 5, 6, 0, 0]]), np.array([[1, 4, 0]]))
    assert np.allclose(a, b[:, :2], atol=1e-12)


def test_train_seq2seq_learns_to_copy():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(4, 9, rng.integers(2, 5)) for _ in range(200)]
    src = pad_batch(seqs)
    tin = pad_batch([np.r_[1, s] for s in seqs])
    tout = pad_batch([np.r_[s, 2] for s in seqs])
    model = Seq2SeqTransformer(9, 9, d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=32, dropout=0.0, rng=0)
    from dlbook.optimizers import Adam
    hist = train_seq2seq(model, Adam(model.parameters(), lr=5e-3), SequenceCrossEntropyLoss(), src, tin, tout,
                         epochs=15, batch_size=20, rng=0, log_every=0)
    assert hist["loss"][-1] < 0.3 * hist["loss"][0]
    out = model.greedy_decode(src[:50], max_len=6)
    hits = np.mean([list(o[:len(s)]) == list(s) and o[len(s)] == 2 for o, s in zip(out, seqs[:50])])
    assert hits > 0.8

"""Chapter 12's translation task (§12.2, Task 2): the Ding reader and its filters, the fixed split by
German sentence, the task builder, corpus BLEU against sacrebleu, and a training smoke test."""
import numpy as np
import pytest
import sacrebleu

from dlbook.data import ding_split, load_ding_pairs, read_ding_pairs, sentence_key
from dlbook.seq2seq import corpus_bleu, ding_arrays, ding_task, greedy_decode, train_ding_rnn, word_tokens


@pytest.fixture(scope="module")
def pairs():
    return load_ding_pairs()


def test_read_ding_pairs_filters():
    lines = [
        "# Version :: 1.9\n",
        "no separator here\n",
        "Das ist gut. | Das ist schlecht. :: That is good.\n",              # senses do not align
        "das ist gut. :: That is good.\n",                                   # not capitalised
        "Das ist gut :: That is good\n",                                     # no final mark
        "Sie kam zu spät. :: She came too late.\n",                          # kept
        "Ja. :: Yes.\n",                                                     # too short
        "Er sagt etw. :: He says sth.\n",                                    # abbreviation
        "Warte ... :: Wait ...\n",                                           # ellipsis
        "Er hat [ugs.] recht. :: He is right.\n",                            # editorial mark
        "Kommst du mit? :: Are you coming?; Are you coming along?\n",        # first variant only
        "Sie kam zu spät. :: She came too late.\n",                          # duplicate
        "Sie kam zu spät. :: She was late.\n",                               # another translation
    ]
    assert read_ding_pairs(lines) == [("Sie kam zu spät.", "She came too late."),
                                      ("Kommst du mit?", "Are you coming?"),
                                      ("Sie kam zu spät.", "She was late.")]
    assert read_ding_pairs(lines, min_words=4) == [("Sie kam zu spät.", "She came too late.")]
    assert read_ding_pairs(lines, max_words=3) == [("Kommst du mit?", "Are you coming?")]
    assert read_ding_pairs([]) == []


def test_ding_split_bad_input():
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction"):
        ding_split([("Ja, gut.", "Yes, good.")], 0.6, 0.5)
    with pytest.raises(ValueError, match="test_fraction"):
        ding_split([], 0.1, -0.1)
    with pytest.raises(TypeError, match="val_fraction"):
        ding_split([], "0.1")
    with pytest.raises(TypeError, match="pairs"):
        ding_split(["Das ist gut."])
    with pytest.raises(TypeError, match="pairs"):
        ding_split([("Das ist gut.", None)])
    assert ding_split([]) == ([], [], [])


def test_ding_split_has_no_source_overlap_and_is_stable(pairs):
    parts = ding_split(pairs)
    keys = [{sentence_key(d) for d, _ in part} for part in parts]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    # every sentence (up to case and punctuation) once, in one part
    assert sum(map(len, parts)) == len(set().union(*keys)) == len({sentence_key(d) for d, _ in pairs})
    n = sum(map(len, parts))
    assert abs(len(parts[2]) / n - 0.10) < 0.01 and abs(len(parts[1]) / n - 0.05) < 0.01
    # the same split again, and the same part for each sentence in any subset
    assert ding_split(list(pairs)) == parts
    rng = np.random.default_rng(0)
    subset = [pairs[i] for i in sorted(rng.choice(len(pairs), 3000, replace=False))]
    for p, part in enumerate(ding_split(subset)):
        assert {sentence_key(d) for d, _ in part} <= keys[p]
    # the fractions move sentences only towards the larger part
    bigger_test = ding_split(pairs, 0.05, 0.2)
    assert keys[2] <= {sentence_key(d) for d, _ in bigger_test[2]}


def test_sentence_key_ignores_case_and_punctuation():
    assert sentence_key("Kommst du mit?") == sentence_key("kommst  du mit !") == "kommst du mit"
    assert sentence_key("Er kommt.") != sentence_key("Sie kommt.")


def test_ding_task_split_and_vocabularies(pairs):
    task = ding_task(max_words=5, pairs=pairs)
    src = {tuple(r[0]) for r in task["train"]}
    assert not src & {tuple(r[0]) for r in task["test"]}
    for part in ("train", "val", "test"):
        for de_tok, en_tok, de, en in task[part]:
            assert len(de.split()) <= 5 and len(en.split()) <= 5
            assert de_tok == word_tokens(de) and en_tok == word_tokens(en)
    counts = {}
    for r in task["train"]:
        for w in r[1]:
            counts[w] = counts.get(w, 0) + 1
    assert set(task["tgt_vocab"].itos[4:]) == {w for w, c in counts.items() if c >= 2}
    S, Ti, To = ding_arrays(task, "test")
    assert S.shape[0] == Ti.shape[0] == len(task["test"]) and (Ti[:, 0] == 1).all()
    with pytest.raises(ValueError, match="max_words"):
        ding_task(max_words=0, pairs=pairs)


def test_word_tokens():
    assert word_tokens("Don’t stop!") == ["don't", "stop", "!"]
    assert word_tokens("Er kam um 5 Uhr, nicht später.") == ["er", "kam", "um", "5", "uhr", ",", "nicht",
                                                             "später", "."]


def _random_corpus(rng, n, vocab=6, refs=1):
    words = [f"w{i}" for i in range(vocab)]
    hyps = [list(rng.choice(words, rng.integers(0, 9))) for _ in range(n)]
    references = [[list(rng.choice(words, rng.integers(1, 9))) for _ in range(refs)] for _ in range(n)]
    return hyps, references


@pytest.mark.parametrize("smooth", ["exp", "none"])
@pytest.mark.parametrize("refs", [1, 3])
def test_corpus_bleu_matches_sacrebleu(smooth, refs):
    rng = np.random.default_rng(refs)
    metric = sacrebleu.metrics.BLEU(tokenize="none", force=True, smooth_method=smooth)
    for trial in range(20):
        hyps, references = _random_corpus(rng, int(rng.integers(1, 15)), refs=refs)
        ours = corpus_bleu(hyps, references, smooth=smooth)
        streams = [[" ".join(r[k]) for r in references] for k in range(refs)]
        theirs = metric.corpus_score([" ".join(h) for h in hyps], streams)
        assert abs(ours["score"] - theirs.score) < 1e-9, trial
        assert (ours["sys_len"], ours["ref_len"]) == (theirs.sys_len, theirs.ref_len)
        assert abs(ours["bp"] - theirs.bp) < 1e-12
        assert np.allclose(ours["precisions"], theirs.precisions)


def test_corpus_bleu_edge_cases_and_bad_input():
    ref = "the cat is on the mat".split()
    assert corpus_bleu([ref], [ref])["score"] == pytest.approx(100)
    assert corpus_bleu([ref], [[ref, ["a"]]])["score"] == pytest.approx(100)
    assert corpus_bleu([[]], [ref])["score"] == 0 and corpus_bleu([[]], [ref])["bp"] == 0
    assert corpus_bleu([["dog"]], [ref])["score"] == 0
    short = corpus_bleu([ref[:4]], [ref])                # precisions 100 %, penalty e^(1 - 6/4)
    assert short["score"] == pytest.approx(100 * np.exp(-0.5)) and short["precisions"] == [100] * 4
    assert corpus_bleu([ref[:3]], [ref])["score"] == 0   # no 4-gram at all: BLEU 0, as sacrebleu
    with pytest.raises(ValueError, match="references"):
        corpus_bleu([ref], [ref, ref])
    with pytest.raises(TypeError, match="str"):
        corpus_bleu(["the cat"], [ref])
    with pytest.raises(TypeError, match="str"):
        corpus_bleu([ref], ["the cat"])
    with pytest.raises(ValueError, match="smooth"):
        corpus_bleu([ref], [ref], smooth="add-k")


def test_training_smoke_loss_decreases(pairs):
    task = ding_task(max_words=4, pairs=pairs[:1500])
    losses = {}
    for attention in ("additive", None):
        model, history = train_ding_rnn(task, attention=attention, epochs=4, rng=0)
        loss = losses[attention] = history["loss"]
        assert all(b < a for a, b in zip(loss, loss[1:])) and loss[-1] < loss[0] - 0.4, loss
        src = ding_arrays(task, "test")[0]
        tokens, att = greedy_decode(model, src, max_len=6)
        assert tokens.shape[0] == len(src) > 0 and (att is None) == (attention is None)
    # same seed, same data: the same run
    again = train_ding_rnn(task, attention="additive", epochs=1, rng=0)[1]["loss"]
    assert again[0] == losses["additive"][0]

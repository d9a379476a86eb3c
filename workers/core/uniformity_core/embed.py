"""Embedders: one float32 (N, d) row per record.

word2vec  gensim Word2Vec trained on the dataset's own tokens; a record is the
          mean of its words' vectors. Deterministic for a seed: gensim's
          per-word initial vectors come from `hashfxn`, which defaults to
          Python's salted `hash`, so we pass a stable one; and multi-worker
          training interleaves threads nondeterministically, so `workers`
          defaults to 1. Asking for more trains faster (roughly linearly on a
          small corpus) but gives up bit-reproducible embeddings and picks.
tfidf     sklearn TfidfVectorizer on the same tokens + TruncatedSVD(dim,
          random_state=seed); dim capped by the vocabulary.
precomputed  an .npy (N, d) array, one row per record.
st        sentence-transformers from a local directory, offline.

Records whose row is all zeros (word2vec/tfidf: no known word) are reported
by `empty_rows`; the kernels treat them consistently (see kernels.py).
"""

import logging
import os
import zlib

import numpy as np

from .protocol import InvalidArgument, check_keys, get_abs_path, get_int, get_str

log = logging.getLogger(__name__)

EMBEDDERS = ("word2vec", "tfidf", "precomputed", "st")


def parse_config(spec):
    """Validated embedder config with defaults filled in."""
    name = get_str(spec, "name", choices=EMBEDDERS, prefix="embedder.", required=True)
    p = "embedder."
    if name == "word2vec":
        check_keys(spec, {"name", "dim", "window", "min_count", "epochs", "workers"}, p)
        return {"name": name,
                "dim": get_int(spec, "dim", 100, minimum=1, prefix=p),
                "window": get_int(spec, "window", 5, minimum=1, prefix=p),
                "min_count": get_int(spec, "min_count", 1, minimum=1, prefix=p),
                "epochs": get_int(spec, "epochs", 5, minimum=1, prefix=p),
                "workers": get_int(spec, "workers", 1, minimum=1, prefix=p)}
    if name == "tfidf":
        check_keys(spec, {"name", "dim"}, p)
        return {"name": name, "dim": get_int(spec, "dim", 100, minimum=1, prefix=p)}
    check_keys(spec, {"name", "path"}, p)
    return {"name": name, "path": get_abs_path(spec, "path", prefix=p)}


def empty_rows(embeddings):
    return np.nonzero(~np.any(embeddings != 0, axis=1))[0]


def _stable_hash(text):
    # gensim seeds each word's initial vector with hashfxn(word + str(seed));
    # Python's hash() is salted per process, crc32 is not.
    return zlib.crc32(text.encode("utf-8"))


def word2vec(tokens, dim=100, window=5, min_count=1, epochs=5, workers=1, seed=0, progress=None):
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    class EpochProgress(CallbackAny2Vec):
        def __init__(self):
            self.done = 0

        def on_epoch_end(self, model):
            self.done += 1
            if progress is not None:
                progress(self.done, epochs)

    if workers > 1:
        log.warning("word2vec with %d workers: embeddings are not bit-reproducible", workers)
    model = Word2Vec(vector_size=dim, window=window, min_count=min_count, workers=workers,
                     seed=seed, hashfxn=_stable_hash)
    model.build_vocab(tokens)
    if len(model.wv) == 0:
        raise InvalidArgument("dataset", f"no word occurs at least min_count={min_count} times")
    model.train(tokens, total_examples=len(tokens), epochs=epochs, callbacks=[EpochProgress()])
    return mean_vectors(tokens, model.wv.key_to_index, model.wv.vectors)


def mean_vectors(tokens, vocab, vectors):
    """Row i = mean of the vectors of record i's known words (zeros if none),
    as one sparse (records x vocab) product instead of a per-record loop."""
    from scipy.sparse import csr_matrix

    cols, lengths = [], []
    for words in tokens:
        known = [vocab[w] for w in words if w in vocab]
        cols.extend(known)
        lengths.append(len(known))
    lengths = np.asarray(lengths, dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    counts = csr_matrix((np.ones(len(cols), dtype=np.float64), np.asarray(cols, dtype=np.int64), indptr),
                        shape=(len(tokens), vectors.shape[0]))
    sums = counts @ vectors.astype(np.float64)
    means = sums / np.maximum(lengths, 1)[:, None]
    return means.astype(np.float32)


def tfidf(tokens, dim=100, seed=0):
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Tokens are already ours; hand them through untouched.
    vectorizer = TfidfVectorizer(analyzer=lambda words: words)
    matrix = vectorizer.fit_transform(tokens)
    if matrix.shape[1] == 0:
        raise InvalidArgument("dataset", "no record has any word")
    # TruncatedSVD needs fewer components than features (and samples).
    k = max(1, min(dim, matrix.shape[1] - 1, matrix.shape[0] - 1))
    if k < dim:
        log.info("tfidf: dim capped at %d by the vocabulary/record count", k)
    if matrix.shape[1] == 1 or matrix.shape[0] == 1:
        return matrix.toarray().astype(np.float32)[:, :k]
    svd = TruncatedSVD(n_components=k, random_state=seed)
    return svd.fit_transform(matrix).astype(np.float32)


def precomputed(path, records):
    field = "embedder.path"
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InvalidArgument(field, f"cannot read .npy {path}: {e}")
    if array.ndim != 2:
        raise InvalidArgument(field, f"must be a 2-D (records x dim) array, got shape {array.shape}")
    if array.shape[0] != records:
        raise InvalidArgument(field, f"has {array.shape[0]} rows but the dataset has {records} records")
    if array.shape[1] < 1:
        raise InvalidArgument(field, "has zero columns")
    if array.dtype not in (np.float32, np.float64):
        raise InvalidArgument(field, f"must be float32 or float64, got {array.dtype}")
    if not np.all(np.isfinite(array)):
        bad = np.nonzero(~np.all(np.isfinite(array), axis=1))[0]
        raise InvalidArgument(field, f"contains NaN or Inf (first in row {int(bad[0])}, {bad.size} rows)")
    return array.astype(np.float32)


def sentence_transformer(path, texts, device, progress=None, batch_size=64):
    # Never reach for the hub: the model must be the local directory.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(path, device=str(device), local_files_only=True)
    except Exception as e:  # a bad directory is the user's input, not our crash
        raise InvalidArgument("embedder.path", f"cannot load a sentence-transformers model from {path}: {e}")
    chunks = []
    step = batch_size * 16
    for a in range(0, len(texts), step):
        chunks.append(model.encode(texts[a:a + step], batch_size=batch_size, convert_to_numpy=True,
                                   show_progress_bar=False))
        if progress is not None:
            progress(min(len(texts), a + step), len(texts))
    return np.concatenate(chunks).astype(np.float32)


def embed(config, texts, tokens, seed, device, progress=None):
    name = config["name"]
    if name == "word2vec":
        return word2vec(tokens, config["dim"], config["window"], config["min_count"], config["epochs"],
                        config["workers"], seed, progress)
    if name == "tfidf":
        return tfidf(tokens, config["dim"], seed)
    if name == "precomputed":
        return precomputed(config["path"], len(texts))
    return sentence_transformer(config["path"], texts, device, progress)

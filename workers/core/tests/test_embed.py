import numpy as np
import pytest
from uniformity_core import embed
from uniformity_core.protocol import InvalidArgument
from uniformity_core.records import tokenize

CORPUS = [f"the {w} cat sat on the {v} mat number {i}" for i, (w, v) in
          enumerate(zip(["red", "blue", "green", "big"] * 25, ["old", "new", "soft", "hard", "wet"] * 20))]


def test_word2vec_is_deterministic_for_a_seed_and_reports_empty_records():
    texts = CORPUS + ["!!! ???", ""]
    tokens = [tokenize(t) for t in texts]
    a = embed.word2vec(tokens, dim=16, epochs=3, seed=5)
    b = embed.word2vec(tokens, dim=16, epochs=3, seed=5)
    c = embed.word2vec(tokens, dim=16, epochs=3, seed=6)
    assert a.shape == (102, 16) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert embed.empty_rows(a).tolist() == [100, 101]


def test_mean_vectors_is_the_mean_of_known_words():
    vecs = np.array([[1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    out = embed.mean_vectors([["a", "b", "zz"], ["b"], ["zz"]], {"a": 0, "b": 1}, vecs)
    assert np.allclose(out, [[0.5, 1.0], [0.0, 2.0], [0.0, 0.0]])


def test_tfidf_shape_and_dim_capped_by_vocabulary():
    tokens = [tokenize(t) for t in CORPUS]
    x = embed.tfidf(tokens, dim=8, seed=0)
    assert x.shape == (100, 8)
    assert np.array_equal(x, embed.tfidf(tokens, dim=8, seed=0))
    small = embed.tfidf([["a", "b"], ["b", "c"], ["c", "a"]], dim=50)
    assert small.shape[1] == 2  # 3 words -> at most 2 components


def test_precomputed_checks(tmp_path):
    good = tmp_path / "g.npy"
    np.save(good, np.ones((4, 3), dtype=np.float64))
    assert embed.precomputed(str(good), 4).dtype == np.float32
    with pytest.raises(InvalidArgument, match="4 rows but the dataset has 5"):
        embed.precomputed(str(good), 5)
    np.save(tmp_path / "v.npy", np.ones(4))
    with pytest.raises(InvalidArgument, match="2-D"):
        embed.precomputed(str(tmp_path / "v.npy"), 4)
    for bad in (np.nan, np.inf):
        arr = np.ones((4, 3))
        arr[2, 1] = bad
        np.save(tmp_path / "b.npy", arr)
        with pytest.raises(InvalidArgument, match="NaN or Inf .*row 2"):
            embed.precomputed(str(tmp_path / "b.npy"), 4)


def _tiny_sentence_transformer(path):
    """A sentence-transformers model built here: tokenizer trained on the fly,
    a 2-layer 32-wide BERT with random weights, mean pooling. Nothing downloaded."""
    from sentence_transformers import SentenceTransformer, models
    from tokenizers import Tokenizer, pre_tokenizers, trainers
    from tokenizers import models as tmodels
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(tmodels.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, trainers.WordLevelTrainer(
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_max_length=64)
    bert_dir = path / "bert"
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(bert_dir)
    fast.save_pretrained(bert_dir)
    word = models.Transformer(str(bert_dir), max_seq_length=64)
    dim = getattr(word, "get_embedding_dimension", None) or word.get_word_embedding_dimension
    pool = models.Pooling(dim(), pooling_mode="mean")
    out = path / "st"
    SentenceTransformer(modules=[word, pool], device="cpu").save(str(out))
    return str(out)


def test_sentence_transformer_from_a_local_directory(tmp_path):
    model_dir = _tiny_sentence_transformer(tmp_path)
    x = embed.sentence_transformer(model_dir, CORPUS[:10], "cpu")
    assert x.shape == (10, 32) and x.dtype == np.float32 and np.all(np.isfinite(x))
    assert np.array_equal(x, embed.sentence_transformer(model_dir, CORPUS[:10], "cpu"))
    with pytest.raises(InvalidArgument, match="embedder.path"):
        embed.sentence_transformer(str(tmp_path), CORPUS[:2], "cpu")

"""Multiple-choice metrics over per-choice log-likelihoods, as
lm-evaluation-harness defines them. Pure functions: numbers in, numbers out.

- acc: the gold choice has the highest log-likelihood (ties go to the first
  choice, as numpy's argmax does in the harness).
- acc_norm: the same after dividing each log-likelihood by the length of the
  choice text in characters (the text without the leading delimiter).
- mc1 (TruthfulQA): acc over the mc1 answers, where exactly one is true.
- mc2 (TruthfulQA): the share of probability mass, normalised over all mc2
  answers, that falls on the true ones.
Every metric is a mean over questions; its standard error is the sample
standard deviation (n-1) over sqrt(n), the harness's mean_stderr.
"""

import math

import numpy as np


def acc(lls, gold):
    return 1.0 if int(np.argmax(np.asarray(lls, dtype=np.float64))) == gold else 0.0


def acc_norm(lls, choices, gold):
    lengths = np.array([float(len(c)) for c in choices])
    return acc(np.asarray(lls, dtype=np.float64) / lengths, gold)


def mc1(lls, gold):
    return acc(lls, gold)


def mc2(lls, labels):
    lls = np.asarray(lls, dtype=np.float64)
    labels = np.asarray(labels)
    # exp(ll - max) / sum(...) is the harness's exp(ll) / sum(exp(ll)) without
    # the underflow to 0/0 that long answers (ll < -745) would cause.
    probs = np.exp(lls - lls.max())
    probs /= probs.sum()
    return float(probs[labels == 1].sum())


def mean_stderr(values):
    """(mean, stderr) of per-question values; stderr is None below 2 values,
    where the harness reports "N/A"."""
    n = len(values)
    if n == 0:
        return None, None
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var) / math.sqrt(n)

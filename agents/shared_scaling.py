"""A calibration with few parameters, for small pools and many labels.

The full calibration fits a multinomial logistic regression with a weight for every (label,
feature) pair: 2K² + K numbers for K labels with the pool's say. On a pool of 32 examples that
overfits, and a label absent from the pool sample gets no weight at all, so the teacher can never
name it even when it knows the label well. Here every label shares two weights, one on the
teacher's log-probability and one on the pool's, plus a bias per label pulled towards 0:

    logit_k = a · log p_teacher(k) + b · log p_pool(k) + c_k

(temperature scaling of each source with vector-scaling biases). A label the pool sample lacks
keeps bias 0, so the teacher's and the pool's evidence alone decide it.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

BIAS_PENALTY = 1.0
WEIGHT_PENALTY = 0.01


def _unpack(theta: np.ndarray, n_labels: int, groups: int) -> tuple[np.ndarray, np.ndarray]:
    return theta[:groups], theta[groups : groups + n_labels]


def _logits(x: np.ndarray, weights: np.ndarray, bias: np.ndarray, n_labels: int) -> np.ndarray:
    """x holds each group's centred log-probabilities side by side: (n, groups × K)."""
    parts = x.reshape(len(x), len(weights), n_labels)
    return np.einsum("ngk,g->nk", parts, weights) + bias


def fit_shared(x: np.ndarray, y: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Shared weights (one per feature group) and per-label biases minimising the penalised
    negative log-likelihood of the labels `y` (indices)."""
    groups = x.shape[1] // n_labels
    rows = np.arange(len(y))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = _unpack(theta, n_labels, groups)
        logits = _logits(x, weights, bias, n_labels)
        logp = log_softmax(logits, axis=1)
        nll = -logp[rows, y].sum()
        residual = softmax(logits, axis=1)
        residual[rows, y] -= 1.0  # d nll / d logits
        parts = x.reshape(len(x), groups, n_labels)
        grad_w = np.einsum("nk,ngk->g", residual, parts) + 2 * WEIGHT_PENALTY * weights
        grad_b = residual.sum(0) + 2 * BIAS_PENALTY * bias
        penalty = BIAS_PENALTY * (bias**2).sum() + WEIGHT_PENALTY * (weights**2).sum()
        return float(nll + penalty), np.concatenate([grad_w, grad_b])

    start = np.concatenate([np.ones(groups), np.zeros(n_labels)])
    theta = minimize(loss, start, jac=True, method="L-BFGS-B").x
    return _unpack(theta, n_labels, groups)


def as_linear(weights: np.ndarray, bias: np.ndarray, n_labels: int) -> tuple[list, list]:
    """The fit as the full calibration's (coef, intercept): one row per label, so applying it
    needs no second code path."""
    eye = np.eye(n_labels)
    coef = np.concatenate([w * eye for w in weights], axis=1)
    return coef.tolist(), bias.tolist()


def predict_shared(
    x: np.ndarray, weights: np.ndarray, bias: np.ndarray, n_labels: int
) -> np.ndarray:
    """Calibrated label probabilities, one row per example."""
    return softmax(_logits(x, weights, bias, n_labels), axis=1)

"""The PCA picture: full set vs selection vs random subset, side by side."""

import numpy as np

MAX_POINTS = 20_000  # drawn per panel; scatter of more is slow and no clearer


def pca_2d(x):
    """Project rows of x (N, d) on the full set's first two principal axes.
    Covariance eigendecomposition in float64: exact, deterministic, and d x d
    no matter how many records. Signs fixed so the largest loading is positive.
    Zero rows (empty records) are projected but do not steer the axes: a few
    points at the origin would otherwise take a whole axis for themselves."""
    x = np.asarray(x, dtype=np.float64)
    fit = x[np.any(x != 0, axis=1)]
    if len(fit) == 0:
        fit = x
    mean = fit.mean(axis=0)
    centred = x - mean
    cov = (fit - mean).T @ (fit - mean) / max(len(fit) - 1, 1)
    vals, vecs = np.linalg.eigh(cov)
    axes = vecs[:, ::-1][:, :2]
    if axes.shape[1] < 2:  # 1-d embeddings: second axis is flat
        axes = np.hstack([axes, np.zeros((x.shape[1], 2 - axes.shape[1]))])
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), range(2)])
    axes = axes * np.where(signs == 0, 1.0, signs)
    return centred @ axes


def _fmt(v):
    return "n/a" if v is None else f"{v:.3g}"


def save_pca(path, x, panels, seed=0):
    """panels: [(title, member indices, h_min), ...]; the first is the full set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    proj = pca_2d(x)
    lo = proj.min(axis=0)
    span = proj.max(axis=0) - lo
    span[span == 0] = 1.0
    scaled = (proj - lo) / span  # MinMax on the full set's range, shared by all panels
    rng = np.random.default_rng(seed)
    fig, axs = plt.subplots(1, len(panels), figsize=(5 * len(panels), 5), sharex=True, sharey=True)
    for ax, (title, members, h_min) in zip(np.atleast_1d(axs), panels):
        members = np.asarray(members)
        shown = members
        note = ""
        if len(members) > MAX_POINTS:
            shown = rng.choice(members, size=MAX_POINTS, replace=False)
            note = f"\n({MAX_POINTS:,} of {len(members):,} points drawn)"
        ax.scatter(scaled[shown, 0], scaled[shown, 1], s=3, alpha=0.5, linewidths=0)
        ax.set_title(f"{title} (n={len(members):,}, h_min={_fmt(h_min)}){note}", fontsize=10)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("PC1 (scaled)")
    np.atleast_1d(axs)[0].set_ylabel("PC2 (scaled)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

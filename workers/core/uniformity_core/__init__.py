"""uniformity_core: the numeric plane (embeddings, selection, later training
and evaluation). Run a job as `python -m uniformity_core KIND --spec FILE`."""

__version__ = "0.1.0"

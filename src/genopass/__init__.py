"""genopass: one harmonised, quality-checked, pseudonymised GRCh38 dataset from many centres."""

from __future__ import annotations

__version__ = "0.1.0"

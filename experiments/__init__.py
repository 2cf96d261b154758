"""The papers' experiments: one training config per paper x dataset (`configs`).

Installed with tfau as ``tfau.experiments`` (like ``datasets/`` as ``tfau.datasets``), so that
``tfau train --config jaanet_bp4d`` and ``tfau cv --config ...`` work from a plain
``pip install``, not only from a source checkout. The benchmark scripts in ``benchmarks/`` are
not installed: they run from a checkout.
"""

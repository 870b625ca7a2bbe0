"""`python -m aigc.bench`: how fast the playground learns, trains, draws and serves, measured
on this machine and written to bench.json / bench.md.

Each measure is one module with a ``run(mode) -> Section``; timings are noisy (±10-15% on a
shared 2-core CPU), so every comparison is taken within one run with its sides interleaved
(A, B, A, B, ...) and reported as a ratio.
"""

"""On-demand benchmarks (never part of `make test`); `make bench` runs them all."""

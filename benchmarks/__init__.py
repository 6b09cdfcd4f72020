"""Speed and quality benchmarks; `make bench` runs them and prints tables."""

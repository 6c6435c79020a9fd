"""Benchmark data: where files come from, the BBQ and BBH loaders, the seeded train/test split."""

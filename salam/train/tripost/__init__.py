"""TriPosT (Yu et al., 2023): its turn format and inference loop (runner), training data (data), recipe (train), step checkers."""

"""Self-correction: the two-attempt protocol shared by the bench and the training recipes, and its metrics."""

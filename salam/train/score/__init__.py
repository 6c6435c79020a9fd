"""SCoRe (Kumar et al., 2024): the recipe (train), its exact choice-mode objective, and the sampled generate mode."""

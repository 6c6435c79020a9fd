"""Imitation learning of the study assistant: examples from exchanges and teacher feedback (data), the recipe (train), held-out evaluation."""

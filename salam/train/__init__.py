"""Training recipes for the study assistant (imitation learning; TRL and PEFT are imported lazily)."""

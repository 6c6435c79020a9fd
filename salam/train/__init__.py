"""Training: the shared base (base, trainer, folder, letters, completions, shared_prefix) and one module or
folder per recipe (il/, sft, stasc, score/, tripost/); TRL, PEFT and transformers are imported lazily."""

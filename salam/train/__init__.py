"""Training: the shared base (base, trainer, folder, letters, grouped_letters, completions, shared_prefix) and one
module or folder per recipe (il/, sft, stasc, score/, tripost/, verify); TRL, PEFT and transformers are imported lazily."""

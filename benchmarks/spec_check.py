"""Does a trained spec answer as its training measured? Score it the way `salam bench --model SPEC` does
(resolve_chat_model + the two-attempt protocol, choice mode) on the validation questions its manifest reports.

Run: python benchmarks/spec_check.py runs/score-sft/stage2 runs/sft-bbh [...]

Reads each folder's manifest (method settings: benchmark, tasks, limit, validation) to rebuild the same
validation questions, then prints spec accuracy (attempt 1, attempt 2) next to the manifest's figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args()

    from salam.models import resolve_chat_model
    from salam.selfcorrect.protocol import TwoAttemptRunner
    from salam.train.base import training_questions
    from salam.train.folder import TrainDir
    from salam.train.sft import SFTTrainConfig

    for folder in args.folders:
        manifest = TrainDir(folder).manifest()
        settings = manifest["settings"]
        config = SFTTrainConfig(out=folder, benchmark=settings["benchmark"], tasks=settings["tasks"], limit=settings["limit"],
                                validation=settings["validation"], data_dir=settings["data_dir"],
                                split_seed=settings.get("split_seed", 0))
        _, validation = training_questions(config)
        results = TwoAttemptRunner(resolve_chat_model(manifest["spec"]), "choice").run(validation)
        t1 = sum(r.t1.correct for r in results) / len(results)
        t2 = sum(r.t2.correct for r in results) / len(results)
        measured = manifest.get("validation") or manifest.get("validation_accuracy") or manifest.get("validation_accuracy_t1")
        measured = measured[-1] if isinstance(measured, list) else measured
        print(f"{folder}: {len(results)} validation questions, spec Acc@t1 {t1:.3f} Acc@t2 {t2:.3f}; training measured {measured}")


if __name__ == "__main__":
    main()

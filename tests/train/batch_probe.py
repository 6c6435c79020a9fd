"""``salam`` with every training batch's prompts written down (launched by accelerate in a test): which examples
each process trains on, step by step. Not a test module: test_data_parallel.py runs it as a script."""

import hashlib
import os
import sys
from pathlib import Path

import salam.train.letters as letters

_collate = letters.LetterCollator.__call__


def _logged(self, rows):  # noqa: ANN001, ANN202
    log = Path(os.environ["SALAM_BATCH_LOG"]) / f"{os.environ.get('WORLD_SIZE', '1')}-{os.environ.get('RANK', '0')}.txt"
    with log.open("a") as f:
        f.write(" ".join(hashlib.md5(r["prompt"].encode()).hexdigest()[:8] for r in rows) + "\n")
    return _collate(self, rows)


letters.LetterCollator.__call__ = _logged

if __name__ == "__main__":
    from salam.cli.main import run

    sys.argv = ["salam", *sys.argv[1:]]
    run()

"""A `salam train verify` spec answers its manifest's validation questions (after --skip + --limit) as training measured.

Run: SALAM_DATA_DIR=... python benchmarks/verify_spec_check.py runs/verify-sft [runs/verify-keep ...]
"""

import json
import sys

from salam.answering.answerer import Answerer
from salam.models import resolve_chat_model
from salam.train.base import train_split_questions

for out in sys.argv[1:]:
    m = json.load(open(f"{out}/salam_train_manifest.json")); s = m["settings"]
    split = (s["benchmark"], s["tasks"], s["data_dir"], s["split_seed"])
    val = [q for q in train_split_questions(*split, s["validation"], s["skip"] + s["limit"]) if q.is_multiple_choice]
    model = resolve_chat_model(m["spec"], max_new_tokens=12, batch_size=8)
    got = Answerer(model, "choice", 8).answer([(q, "") for q in val])
    print(out, "training measured", m["validation_accuracy"], "spec through the bench's answerer", sum(a.correct for a in got) / len(got), len(got))

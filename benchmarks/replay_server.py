"""A simulated remote API: replays answers recorded from the real llama.cpp server after a fixed delay.

Run: python benchmarks/replay_server.py --recorded FILE.json --delay 0.3 --port PORT

FILE.json maps prompts to the completions the real server wrote (benchmarks/served_scheduling.py records
it); a prompt it does not hold is answered "A)". Every request waits ``--delay`` seconds in its own thread,
as a remote endpoint's latency would, so a bench against it measures salam's scheduling, not the 2 cores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from salam.testing_server import ScriptedServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recorded", type=Path, required=True)
    parser.add_argument("--delay", type=float, default=0.3)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    recorded = json.loads(args.recorded.read_text()) if args.recorded.is_file() else {}

    def reply(prompt: str) -> tuple[str, dict[str, float]]:
        return recorded.get(prompt, "A)"), {"A": -0.1, "B": -2.0, "C": -3.0}

    with ScriptedServer(reply, delay_s=args.delay, port=args.port):
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()

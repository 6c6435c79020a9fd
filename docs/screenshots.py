"""Screenshots of the viewer's main pages into docs/screenshots/ (shown in the README).

Run: python docs/screenshots.py --logs runs --memory runs/mem-bbq [--run RUN_ID] [--training TRAIN_ID]

Starts `salam view` in this process on a free port and drives Debian's chromium (headless) with
Playwright: the runs list, a run page, a sample, the memory with a search, a record, a training folder.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import threading
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logs", type=Path, default=Path("runs"))
    parser.add_argument("--memory", default=None)
    parser.add_argument("--run", default=None, help="Run id to show (default: the first with self-correction).")
    parser.add_argument("--training", default=None, help="Training folder id to show (default: the first).")
    parser.add_argument("--search", default="Who was acting recklessly?")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()

    import uvicorn
    from playwright.sync_api import sync_playwright

    from salam.view.app import ViewConfig, create_app
    from salam.view.data import discover, run_row

    found = discover([], args.logs)
    rows = [run_row(s, p) for s, p in found.runs.items()]
    run_id = args.run or next((r["id"] for r in rows if not r["problem"] and "t1" in r.get("headline", "")), None)
    training_id = args.training or next(iter(found.trainings), None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(ViewConfig(logs=args.logs, memory=args.memory, read_only=True)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    base = f"http://127.0.0.1:{port}"
    args.out.mkdir(parents=True, exist_ok=True)
    shots = [("runs", "/runs")]
    if run_id:
        shots += [("run", f"/runs/{run_id}"), ("run-flipped", f"/runs/{run_id}?condition=self_correct&flipped=1")]
    if args.memory:
        shots += [("memory-search", f"/memory?q={args.search.replace(' ', '+')}&mode=semantic")]
    if training_id:
        shots += [("training", f"/training/{training_id}")]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for name, url in shots:
            page.goto(base + url)
            page.screenshot(path=str(args.out / f"{name}.png"), full_page=False)
            print(f"wrote {args.out / name}.png")
        if run_id:
            page.goto(f"{base}/runs/{run_id}?condition=self_correct&flipped=1")
            if page.locator("#samples tr[data-href]").count():
                page.locator("#samples tr[data-href] a").first.click()
                page.screenshot(path=str(args.out / "sample.png"))
                print(f"wrote {args.out / 'sample.png'}")
        if args.memory:
            page.goto(f"{base}/memory?q={args.search.replace(' ', '+')}&mode=semantic")
            if page.locator("#records a").count():
                page.locator("#records a").first.click()
                page.screenshot(path=str(args.out / "record.png"))
                print(f"wrote {args.out / 'record.png'}")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()

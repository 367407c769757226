"""Take the README's screenshots from a running geo_safety (e.g. `scripts/run.sh`) in headless Chromium.

usage: .venv/bin/python scripts/screenshots.py BASE_URL USER PASSWORD [PAGE=OUT.png ...]
"""

from __future__ import annotations

import sys

from playwright.sync_api import sync_playwright

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main(base: str, user: str, password: str, shots: list[str]) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1000, "height": 720})
        page.goto(base + "/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        for shot in shots:
            path, _, out = shot.rpartition("=")
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(500)
            page.screenshot(path=out)
            print(f"wrote {out}")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])

#!/usr/bin/python3
"""bench/web/browser.py — the web desk in headless Chromium on a large
store: time to the first list and the list view's page weight.

Starts `relaydesk serve` on DATA (a store made by bench/tickets'
generate.sql, e.g. the one `KEEP=DIR bench/web/run.sh` leaves in
DIR/data), adds an agent of three of the five generated queues
(generate.sql: tech has open tickets, sales the "zanzibar" ones), logs in with Chromium
(Debian's chromium + chromium-driver, python3-selenium) and loads each
list RUNS times, each time as a new document (about:blank first): the
time from navigation start to the rows on screen (the page's own mark,
document.body.dataset.firstListAt) and every byte the view loaded,
uncompressed (Resource Timing's decodedBodySize, the event stream
excepted). Prints a table: median and worst per list, the weight.

Targets (issue 11): first list < 500 ms, page weight < 200 KB.

Usage: RELAYDESK=build/app/relaydesk bench/web/browser.py DATA [RUNS]
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RELAYDESK = os.path.abspath(os.environ.get("RELAYDESK", os.path.join(ROOT, "build", "app", "relaydesk")))
PASSWORD = "bench password 1"
LISTS = [("all of the agent's queues", "/#/"),
         ("filtered: queue=tech, status=open", "/#/?queue=tech&status=open"),
         ("search: zanzibar", "/#/?q=zanzibar"),
         ("page 50, sorted by update", "/#/?sort=updated&page=50")]


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    data = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    for p in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.path.exists(p):
            print(f"bench/web/browser.py: needs {p} (apt-get install chromium chromium-driver python3-selenium)",
                  file=sys.stderr)
            return 77
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    tmp = tempfile.mkdtemp(prefix="rd-bench-browser-")
    serve = None
    d = None
    try:
        pw = os.path.join(tmp, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        subprocess.run([RELAYDESK, "agents", "add", "bench-browser@example.org", "--name", "Bench",
                        "--queue", "billing", "--queue", "sales", "--queue", "tech", "--password-file", pw, "--data-dir", data],
                       capture_output=True)
        # (an agent left by an earlier run: the same queues)
        subprocess.run([RELAYDESK, "agents", "set", "bench-browser@example.org", "--queue", "billing", "--queue", "sales",
                        "--queue", "tech", "--data-dir", data], capture_output=True)
        port_file = os.path.join(tmp, "http.port")
        log = open(os.path.join(tmp, "serve.log"), "wb")
        serve = subprocess.Popen([RELAYDESK, "serve", "--data-dir", data, "--smtp", "127.0.0.1:0", "--smtps", "none",
                                  "--port-file", os.path.join(tmp, "smtp.port"), "--http", "127.0.0.1:0",
                                  "--http-port-file", port_file], stdout=log, stderr=subprocess.STDOUT)
        for _ in range(600):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            if serve.poll() is not None:
                raise SystemExit("serve exited: " + open(os.path.join(tmp, "serve.log")).read()[-2000:])
            time.sleep(0.05)
        base = "http://127.0.0.1:" + open(port_file).read().split()[0]

        o = webdriver.ChromeOptions()
        o.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-extensions", "--window-size=1280,900", f"--user-data-dir={tmp}/profile"):
            o.add_argument(a)
        d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
        wait = lambda fn, t=60: WebDriverWait(d, t, poll_frequency=0.02).until(lambda _: fn())
        d.get(base + "/#/login")
        wait(lambda: d.find_elements("css selector", "#login-form"))
        d.find_element("css selector", 'input[autocomplete="username"]').send_keys("bench-browser@example.org")
        d.find_element("css selector", 'input[autocomplete="current-password"]').send_keys(PASSWORD, Keys.ENTER)
        wait(lambda: d.find_elements("css selector", "#ticket-rows tr"))

        weight_js = """
            const n = performance.getEntriesByType('navigation')[0];
            let total = n ? n.decodedBodySize : 0, count = 1;
            for (const r of performance.getEntriesByType('resource')) {
              if (r.name.includes('/api/v1/events')) continue;
              total += r.decodedBodySize; count++;
            }
            return [total, count];"""
        print(f"{'list':40} {'first list p50':>15} {'worst':>8} {'rows':>6} {'weight':>10}")
        for name, path in LISTS:
            times, weights, rows = [], [], 0
            for i in range(runs + 1):
                d.get("about:blank")
                d.get(base + path)
                wait(lambda: d.execute_script("return document.body.dataset.firstListAt"))
                if i == 0:
                    continue   # the first load warms the caches
                times.append(int(d.execute_script("return document.body.dataset.firstListAt")))
                weights.append(d.execute_script(weight_js))
                rows = len(d.find_elements("css selector", "#ticket-rows tr[data-number]"))
            w, n = max(weights)
            print(f"{name:40} {statistics.median(times):>12.0f} ms {max(times):>5} ms {rows:>6} "
                  f"{w / 1024:>7.1f} KB ({n} requests)")
        return 0
    finally:
        if d:
            d.quit()
        if serve:
            serve.terminate()
            serve.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

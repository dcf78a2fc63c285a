"""Harness of the browser tests (tests/web/browser_*.py): a real
`relaydesk serve` with its web desk on a loopback port, an aiosmtpd relay
storing what the desk sends, agents made with `relaydesk agents add`, and
headless Chromium (Debian's chromium + chromium-driver) driven by
python3-selenium.

A test is skipped (exit 77) only when Chromium is not installed, and says
so on stderr; Chromium without its driver or selenium is a failure.
"""
import email
import email.policy
import email.utils
import http.client
import json
import os
import shutil
import smtplib
import socket
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from rdtest import RELAYDESK, RelaydeskTestCase, Serve  # noqa: E402
from relay_peers import Aiosmtpd, free_port  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
BUILD_ROOT = os.environ.get("RD_BUILD_ROOT", os.getcwd())
SHOTS = os.path.join(BUILD_ROOT, "web-screenshots")
INBOX = "support@desk.test"
PASSWORD = "correct horse battery staple 7"


def need_browser():
    """Skipped (77) when Chromium is not installed; with Chromium but
    without its driver or selenium the setup is broken: fail, saying what
    to install."""
    hint = "apt-get install chromium chromium-driver python3-selenium (.ci/packages.d/web.txt)"
    if not os.path.exists(CHROMIUM):
        print(f"SKIP: the browser tests need Debian's chromium ({CHROMIUM} is absent): {hint}", file=sys.stderr)
        sys.exit(77)
    missing = [] if os.path.exists(CHROMEDRIVER) else [CHROMEDRIVER]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium")
    if missing:
        print(f"FAIL: chromium is installed but {', '.join(missing)} is missing: {hint}", file=sys.stderr)
        sys.exit(1)


need_browser()
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

__all__ = ["By", "Keys", "DeskTestCase", "main", "TimeoutException"]


def mail(frm, subject, body, to=INBOX, msgid=None):
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = msgid or email.utils.make_msgid(domain="customer.example")
    m.set_content(body)
    return m


class Browser:
    """One headless Chromium with its own profile (its own cookies)."""

    def __init__(self, tmp, name, width=1280, height=900):
        o = webdriver.ChromeOptions()
        o.binary_location = CHROMIUM
        profile = os.path.join(tmp, "chrome-" + name)
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--no-first-run", "--disable-extensions", "--disable-background-networking",
                  "--disable-sync", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                  f"--window-size={width},{height}", f"--user-data-dir={profile}"):
            o.add_argument(a)
        o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(service=Service(CHROMEDRIVER, log_path=os.path.join(tmp, f"chromedriver-{name}.log")),
                                  options=o)
        self.d.set_page_load_timeout(30)
        self.name = name

    def quit(self):
        try:
            self.d.quit()
        except Exception:
            pass

    def wait(self, fn, timeout=10, what="condition"):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.05).until(lambda d: fn())
        except TimeoutException:
            raise AssertionError(f"{self.name}: timed out after {timeout}s waiting for {what}; "
                                 f"page: {self.d.current_url} {self.text('main')[:1500]!r}") from None

    def q(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def qs(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        """The text of the first match ("" when none); the page may
        replace the element while it is read: then ask again."""
        for _ in range(5):
            try:
                e = self.qs(css)
                return e[0].text if e else ""
            except StaleElementReferenceException:
                continue
        return ""

    def click(self, css):
        """Clicks the element (looking again when the page re-rendered it
        between finding and clicking)."""
        def once():
            try:
                e = self.qs(css)
                if e:
                    e[0].click()
                    return True
            except StaleElementReferenceException:
                pass
            return False
        self.wait(once, what=f"{css} to click")

    def click_text(self, css, text):
        """Clicks the first element matching @css whose text has @text (the
        page may re-render it meanwhile: then looks again)."""
        def once():
            try:
                for e in self.qs(css):
                    if text in e.text:
                        e.click()
                        return True
            except StaleElementReferenceException:
                pass
            return False
        self.wait(once, what=f"{css} with {text!r} to click")

    def visible(self, css):
        e = self.qs(css)
        return bool(e) and e[0].is_displayed()

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def console(self):
        return self.d.get_log("browser")

    def shot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        path = os.path.join(SHOTS, name + ".png")
        self.d.save_screenshot(path)
        return path

    def cookie_header(self):
        return "; ".join(f"{c['name']}={c['value']}" for c in self.d.get_cookies())


class DeskTestCase(unittest.TestCase):
    """serve with the web desk + a relay + agents; browsers on demand."""

    SCRIPT = None            # a Sieve script for [rules] default
    DESK_CONF = ""           # more lines for [desk]
    AGENTS = (("alice@desk.test", "Alice Agent", "admin"),)

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rd-web-")
        cls.data = os.path.join(cls.tmp, "data")
        cls.browsers = []
        cls.serve_proc = None
        cls.relay = Aiosmtpd(cls.tmp, name="relay").start()
        try:
            cls._start_serve()
            for email_, name, role in cls.AGENTS:
                cls.add_agent(email_, name, role)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start_serve(cls):
        cls.http_port = free_port()
        cls.base = f"http://127.0.0.1:{cls.http_port}"
        conf = os.path.join(cls.tmp, "relaydesk.conf")
        rules = ""
        if cls.SCRIPT:
            script = os.path.join(cls.tmp, "default.sieve")
            with open(script, "w") as f:
                f.write(cls.SCRIPT)
            rules = "[rules]\ndefault = default.sieve\n"   # beside the config (script_dir)
        with open(conf, "w") as f:
            f.write(f"""[relaydesk]
hostname = desk.test
[desk]
reply_address = {INBOX}
from_name = Desk Support
{cls.DESK_CONF}{rules}[relay]
url = smtp://127.0.0.1:{cls.relay.port}
starttls = opportunistic
retry_base = 1s
retry_max = 2s
[http]
listen = 127.0.0.1:{cls.http_port}
""")
        cls.conf = conf
        cls.serve_proc = Serve(cls.data, ("--config", conf, "--http", f"127.0.0.1:{cls.http_port}"))
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", cls.http_port, timeout=2)
                c.request("GET", "/")
                c.getresponse().read()
                c.close()
                return
            except OSError:
                if cls.serve_proc.proc.poll() is not None:
                    raise RuntimeError("serve exited: " + cls.serve_proc.read_log()[-3000:])
                time.sleep(0.05)
        raise RuntimeError("the web desk did not answer: " + cls.serve_proc.read_log()[-3000:])

    @classmethod
    def tearDownClass(cls):
        for b in cls.browsers:
            b.quit()
        rc = cls.serve_proc.stop() if cls.serve_proc else 0
        cls.relay.stop()
        log = cls.serve_proc.read_log() if cls.serve_proc else ""
        if os.environ.get("RD_KEEP_TMP"):
            print("kept " + cls.tmp, file=sys.stderr)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        # A clean stop: exit 0 (under the sanitizers: no leak, no error).
        if rc != 0:
            raise AssertionError(f"serve exited {rc} at SIGTERM: {log[-4000:]}")

    @classmethod
    def rd(cls, *args, input=None):
        import subprocess
        cmd = [RELAYDESK, *args, "--data-dir", cls.data, "--config", cls.conf]
        p = subprocess.run(cmd, input=input, capture_output=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"{cmd} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
        return p.stdout.decode()

    @classmethod
    def add_agent(cls, email_, name, role):
        pw = os.path.join(cls.tmp, "pw-" + email_)
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        cls.rd("agents", "add", email_, "--name", name, "--role", role, "--queue", "inbox", "--password-file", pw)

    def browser(self, name="a", width=1280, height=900):
        b = Browser(self.tmp, name, width, height)
        self.browsers.append(b)
        return b

    def login(self, b, who="alice@desk.test"):
        b.d.get(self.base + "/#/login")
        b.wait(lambda: b.qs('input[autocomplete="username"]'), what="the login form")
        b.q('input[autocomplete="username"]').send_keys(who)
        b.q('input[autocomplete="current-password"]').send_keys(PASSWORD)
        b.q('input[autocomplete="current-password"]').send_keys(Keys.ENTER)
        b.wait(lambda: b.qs("#ticket-rows"), what="the ticket list after login")

    # mail ---------------------------------------------------------------------
    def send(self, msg, to=INBOX):
        raw = msg.as_bytes() if hasattr(msg, "as_bytes") else msg
        frm = email.utils.parseaddr(msg["From"])[1] if hasattr(msg, "as_bytes") else "x@customer.example"
        with smtplib.SMTP("127.0.0.1", self.serve_proc.port, timeout=30) as s:
            self.assertEqual(s.sendmail(frm, [to], raw), {})

    def tickets(self):
        return json.loads(self.rd("tickets", "list", "--json"))

    # fn() until it is true (the integration tests' helper)
    wait_for = RelaydeskTestCase.wait_for

    def relayed(self, n, timeout=30):
        got = self.wait_for(lambda: (lambda m: m if len(m) >= n else None)(self.relay.messages()),
                            timeout=timeout, what=f"{n} messages at the relay")
        out = []
        for raw in got:
            _, _, rest = raw.partition(b"\r\n")
            _, _, rest = rest.partition(b"\r\n")   # X-Envelope-From, X-Envelope-To
            out.append(email.message_from_bytes(rest, policy=email.policy.default))
        return out

    # HTTP with a browser's session ---------------------------------------------
    def http(self, b, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        h = {"Cookie": b.cookie_header()}
        if headers:
            h.update(headers)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data


def main():
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""A hostile message in the web desk executes nothing and loads nothing.

The message carries script in its subject, sender name, text body, HTML
part and attachment file name, an SVG attachment with onload, an HTML file
sent as image/png, javascript: links and remote images. Every payload, if
it ran or loaded, would request a URL of a canary HTTP server on
loopback; the test fails on any request it sees, and on any element the
mail could have added to the desk's own page. A positive control: once
the agent asks for remote images, the canary does see the image (and only
the image), so the detector works.
"""
import http.server
import os
import sys
import threading
import time
from email.message import EmailMessage
import email.policy
import email.utils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browserlib import By, DeskTestCase, main  # noqa: E402


class Canary:
    def __init__(self):
        hits = self.hits = []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()
                self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
            do_POST = do_GET

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, what):
        return f"http://127.0.0.1:{self.port}/{what}"

    def stop(self):
        self.srv.shutdown()


def hostile(c):
    js = lambda what: f"fetch('{c.url(what)}')"
    m = EmailMessage(policy=email.policy.SMTP)
    m["From"] = email.utils.formataddr((f"<img src={c.url('from-img')} onerror={js('from')}>", "mallory@hostile.example"))
    m["To"] = "support@desk.test"
    m["Subject"] = f"<script>{js('subject')}</script><img src={c.url('subject-img')}> Hostile"
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = email.utils.make_msgid(domain="hostile.example")
    m.set_content(f"<script>{js('text-script')}</script>\n<img src={c.url('text-img')} onerror={js('text-onerror')}>\n"
                  f"javascript:{js('text-js')}\nplain body marker\n")
    m.add_alternative(f"""<html><head><meta http-equiv="refresh" content="0;url={c.url('meta-refresh')}">
<link rel="stylesheet" href="{c.url('html-css')}"><base href="{c.url('base/')}"></head>
<body onload="{js('body-onload')}"><script>{js('html-script')}</script>
<p>html part marker</p><img src="{c.url('html-img')}" alt="tracker">
<a id="jslink" href="javascript:{js('js-link')}">click me</a>
<a href="  JaVaScRiPt:{js('js-link2')}">and me</a>
<svg onload="{js('html-svg')}"><image href="{c.url('svg-image')}"/></svg>
<iframe src="{c.url('html-iframe')}"></iframe><object data="{c.url('html-object')}"></object>
<div style="background:url({c.url('html-bg')})">styled</div>
<form action="{c.url('form')}"><button id="formbtn">go</button></form>
<img src="x" onerror="{js('html-onerror')}"></body></html>""", subtype="html")
    m.add_attachment(f"<svg onload={js('svg-attachment')}>".encode(), maintype="image", subtype="svg+xml",
                     filename=f"\"><img src=x onerror={js('filename')}>.svg")
    m.add_attachment(f"<html><script>{js('forged-png')}</script></html>".encode(), maintype="image", subtype="png",
                     filename="photo.png")
    return m


class Hostile(DeskTestCase):
    def test_hostile_message(self):
        c = Canary()
        self.addCleanup(c.stop)
        # the desk's own headers
        import http.client
        h = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
        h.request("GET", "/")
        r = h.getresponse()
        r.read()
        csp = r.getheader("Content-Security-Policy", "")
        self.assertTrue(csp, "the desk page has a Content-Security-Policy")
        script_src = [d for d in csp.split(";") if d.strip().startswith(("script-src", "default-src"))]
        self.assertTrue(script_src, csp)
        self.assertNotIn("unsafe-inline", " ".join(d for d in script_src if "script-src" in d) or script_src[0], csp)
        self.assertNotIn("unsafe-eval", csp)
        self.assertEqual(r.getheader("X-Content-Type-Options"), "nosniff")

        self.send(hostile(c))
        n = self.wait_for(lambda: [t["number"] for t in self.tickets() if "Hostile" in (t["subject"] or "")],
                          what="the hostile ticket")[0]
        b = self.browser("alice")
        self.login(b)
        b.wait(lambda: "Hostile" in b.text("#ticket-rows"), what="the ticket in the list")
        self.assertIn("<script>", b.text("#ticket-rows"), "the subject is shown as text")
        b.click(f'#ticket-rows tr[data-number="{n}"] td.subject a')
        b.wait(lambda: b.qs("#thread article.msg"), what="the ticket")
        self.assertIn("<script>fetch(", b.text("#ticket-subject"))
        self.assertIn("plain body marker", b.text("#thread"))
        self.assertIn("from-img", b.text("#thread .msg .from"), "the sender's name as text")
        names = [a.text for a in b.qs("#thread a.attachment")]
        self.assertIn("photo.png", names)
        self.assertTrue(any("onerror=" in x for x in names), names)

        def page_clean():
            return b.js("""
              const bad = [];
              for (const s of document.scripts) if (!s.src || !s.src.startsWith(location.origin + '/js/')) bad.push('script ' + s.outerHTML.slice(0, 80));
              for (const e of document.querySelectorAll('img, svg, object, embed, link[rel=stylesheet]:not([href="/style.css"]), iframe:not(.mail-html), base, meta[http-equiv], form[action^=http]'))
                bad.push(e.tagName + ' ' + e.outerHTML.slice(0, 80));
              for (const e of document.querySelectorAll('*'))
                for (const a of e.attributes)
                  if (/^on/i.test(a.name) || (/^(href|src|srcset|action|formaction|style|data|background|poster|xlink:href)$/i.test(a.name)
                      && (/javascript:/i.test(a.value) || a.value.includes('127.0.0.1:' + arguments[0]))))
                    bad.push(e.tagName + ' @' + a.name + '=' + a.value.slice(0, 60));
              return bad;""", c.port)
        self.assertEqual(page_clean(), [], "nothing from the mail became markup in the desk's page")

        # The HTML part: only in a sandboxed iframe, scripts off.
        b.q("#thread .show-html").click()
        b.wait(lambda: b.qs("iframe.mail-html"), what="the HTML view")
        frame = b.q("iframe.mail-html")
        self.assertEqual(frame.get_attribute("sandbox"), "", "sandboxed, no allow-* tokens")
        b.d.switch_to.frame(frame)
        b.wait(lambda: "html part marker" in b.d.find_element(By.TAG_NAME, "body").text, what="the HTML part")
        for link in b.d.find_elements(By.CSS_SELECTOR, "a"):
            try:
                link.click()
            except Exception:
                pass
        b.d.switch_to.default_content()
        time.sleep(1.5)
        self.assertEqual(c.hits, [], "nothing ran or loaded before the agent asked for images")
        self.assertEqual(page_clean(), [])

        # The attachments: downloads, never rendered on the desk's origin.
        for a in b.qs("#thread a.attachment"):
            href = a.get_attribute("href").replace(self.base, "")
            r, data = self.http(b, "GET", href)
            self.assertEqual(r.status, 200, href)
            self.assertTrue(r.getheader("Content-Disposition", "").startswith("attachment"), href)
            self.assertEqual(r.getheader("X-Content-Type-Options"), "nosniff", href)
            self.assertIn("sandbox", r.getheader("Content-Security-Policy", ""), href)
            self.assertNotIn(r.getheader("Content-Type", "").split(";")[0].strip().lower(),
                             ("text/html", "image/svg+xml", "text/xml", "application/xhtml+xml"), href)
            b.d.get(self.base + href)     # a download, not a page
            time.sleep(0.5)
        b.d.get(f"{self.base}/#/ticket/{n}")
        b.wait(lambda: b.qs("#thread article.msg"), what="the ticket again")
        time.sleep(1)
        self.assertEqual(c.hits, [], "opening the attachments ran nothing")

        # Positive control: remote images on request reach the canary, and
        # nothing but images does.
        b.d.refresh()
        b.wait(lambda: b.qs("#thread .show-html"), what="the ticket, reloaded")
        b.q("#thread .show-html").click()
        b.wait(lambda: b.qs("#thread .load-images"), what="the images button")
        b.q("#thread .load-images").click()
        self.wait_for(lambda: any("html-img" in x for x in c.hits), timeout=10,
                      what="the remote image after the agent asked")
        time.sleep(1)
        allowed = ("/html-img", "/html-bg", "/svg-image")
        self.assertEqual([x for x in c.hits if x not in allowed], [], "only images loaded, nothing ran")
        print("canary saw, after 'Load remote images':", c.hits, file=sys.stderr)


if __name__ == "__main__":
    main()

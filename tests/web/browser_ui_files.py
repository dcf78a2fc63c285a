#!/usr/bin/python3
"""The web desk's files (web/ui/), checked without a browser:

- every file of web/ui/ is listed in web/ui/ui.gresource.xml (and every
  listed file exists), so the binary serves all of it;
- no inline script, no inline event handler and no style attribute in the
  HTML (the Content-Security-Policy allows none of them);
- no innerHTML / outerHTML / insertAdjacentHTML / document.write / eval /
  new Function in the scripts: every string reaches the page as text;
- every import between the modules names a file that exists;
- nothing is loaded from another origin (no http: or https: URL in the
  HTML, CSS or scripts except the SVG namespace);
- the whole UI stays well under the 200 KB page-weight budget.
"""
import os
import re
import sys
import unittest
import xml.etree.ElementTree as ET

ROOT = os.environ.get("RD_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UI = os.path.join(ROOT, "web", "ui")


def ui_files():
    out = []
    for d, _, files in os.walk(UI):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), UI)
            if rel != "ui.gresource.xml":
                out.append(rel)
    return sorted(out)


class UiFiles(unittest.TestCase):
    def test_gresource_lists_every_file(self):
        tree = ET.parse(os.path.join(UI, "ui.gresource.xml"))
        res = tree.getroot().find("gresource")
        self.assertEqual(res.get("prefix"), "/relaydesk/ui")
        listed = sorted(f.text for f in res.findall("file"))
        self.assertEqual(listed, ui_files())
        self.assertIn("index.html", listed)

    def test_html_has_no_inline_script_or_style(self):
        for f in ui_files():
            if not f.endswith(".html"):
                continue
            text = open(os.path.join(UI, f), encoding="utf-8").read()
            for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", text, re.S | re.I):
                self.assertIn("src=", m.group(1), f"{f}: inline script")
                self.assertEqual(m.group(2).strip(), "", f"{f}: inline script body")
            self.assertIsNone(re.search(r"\son[a-z]+\s*=", text, re.I), f"{f}: inline event handler")
            self.assertIsNone(re.search(r"\sstyle\s*=", text, re.I), f"{f}: style attribute")
            self.assertIsNone(re.search(r"javascript:", text, re.I), f"{f}: javascript: URL")

    def test_scripts_insert_text_only(self):
        bad = re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function\s*\(|"
                         r"createContextualFragment|DOMParser|srcdoc")
        for f in ui_files():
            if not f.endswith(".js"):
                continue
            for i, line in enumerate(open(os.path.join(UI, f), encoding="utf-8"), 1):
                code = line.split("//", 1)[0]
                self.assertIsNone(bad.search(code), f"{f}:{i}: {line.strip()}")

    def test_imports_resolve(self):
        for f in ui_files():
            if not f.endswith(".js"):
                continue
            text = open(os.path.join(UI, f), encoding="utf-8").read()
            for m in re.finditer(r"^import\s.*?from\s+'([^']+)'", text, re.M):
                target = os.path.normpath(os.path.join(os.path.dirname(os.path.join(UI, f)), m.group(1)))
                self.assertTrue(os.path.isfile(target), f"{f}: import {m.group(1)}")

    def test_nothing_from_elsewhere(self):
        for f in ui_files():
            text = open(os.path.join(UI, f), encoding="utf-8", errors="replace").read()
            urls = [u for u in re.findall(r"https?://[^\s'\"<>)]+", text) if u != "http://www.w3.org/2000/svg"]
            self.assertEqual(urls, [], f)

    def test_weight(self):
        total = sum(os.path.getsize(os.path.join(UI, f)) for f in ui_files())
        print(f"\nweb/ui: {len(ui_files())} files, {total} bytes", file=sys.stderr)
        self.assertLess(total, 150 * 1024)


if __name__ == "__main__":
    unittest.main(verbosity=2)

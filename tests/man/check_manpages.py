"""The manual pages against the program.

- relaydesk(8): every command of `relaydesk --help`, and every option of
  every `relaydesk COMMAND [SUB] --help`, is in the page, and every option
  the page names exists.
- relaydesk.conf(5) (generated from the schema): every key the code reads
  (each rd_config_get_*() call in the sources) is on the page, and every
  key on the page is read somewhere.
- Every page renders with man(1) without a warning.
- The installed relaydesk.conf (generated, all commented) passes
  `relaydesk config check`; a typo in it is refused with FILE:LINE.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import unittest

RELAYDESK = os.environ["RELAYDESK"]
BUILD = os.environ["RD_BUILD_ROOT"]
SOURCE = os.path.realpath(os.environ["RD_SOURCE_ROOT"])
MAN = os.path.join(BUILD, "man")
COMMON = {"--data-dir", "--config", "--database", "--verbose", "--log-format", "--help", "--help-all"}


def help_text(*args):
    p = subprocess.run([RELAYDESK, *args, "--help"], capture_output=True, text=True, timeout=30)
    return p.stdout + p.stderr


def subcommands(text):
    m = re.search(r"Commands:\n((?:  \S.*\n)+)", text)
    return [l.split()[0] for l in m.group(1).splitlines()] if m else []


def long_options(text):
    return set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)", text, re.M)) - COMMON


def page_text(name):
    with open(os.path.join(MAN, name)) as f:
        return f.read()


def unroff(text):
    return text.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")


class ManPages(unittest.TestCase):
    def test_relaydesk8_commands_and_options(self):
        page = unroff(page_text("relaydesk.8"))
        sections = dict(re.findall(r"^\.SS (\S+)\n(.*?)(?=^\.SS |^\.SH )", page, re.M | re.S))
        top = subcommands(help_text())
        self.assertGreater(len(top), 10)
        seen = set()
        for cmd in top:
            self.assertIn(cmd, sections, f"relaydesk(8) has no section for the command {cmd}")
            subs = subcommands(help_text(cmd))
            for sub in subs or [None]:
                args = [cmd] + ([sub] if sub else [])
                if sub:
                    self.assertRegex(sections[cmd], rf"\b{cmd} {sub}\b|\b{sub}\b",
                                     f"relaydesk(8) does not mention `relaydesk {cmd} {sub}`")
                for opt in long_options(help_text(*args)) - {"--json", "--as"}:
                    seen.add(opt)
                    self.assertIn(opt, sections[cmd], f"relaydesk(8), {cmd}: option {opt} of "
                                                      f"`relaydesk {' '.join(args)}` is missing")
        named = set(re.findall(r"(--[a-z][a-z-]*)", page)) - COMMON - {"--json", "--as", "--config"}
        self.assertEqual(named - seen, set(), "relaydesk(8) names options no command has")
        for word in ("EXIT STATUS", "SIGNALS", "FILES", "SIGHUP", "SIGTERM", "relaydesk_smtp_rejections_total"):
            self.assertIn(word, page)

    def sources(self):
        for path in glob.glob(os.path.join(SOURCE, "*", "**", "*.c"), recursive=True):
            rel = os.path.relpath(path, SOURCE)
            if rel.startswith(("tests/", "build", "fuzz/", "bench/", "common/rd-config-schema")):
                continue
            with open(path, encoding="utf-8") as f:
                yield rel, f.read()

    def code_keys(self):
        """(group, key) of every getter call (and helper taking the config,
        group and key the same way) in the sources."""
        keys = set()
        call = re.compile(r'\b\w+ \(\s*[\w>.-]*config[\w>.-]*,\s*("[a-z_.]+"|group),\s*"([a-z_]+)"')
        for _, text in self.sources():
            for group, key in call.findall(text):
                # A group in a variable is a [queue.NAME] (desk/).
                keys.add((group.strip('"') if group.startswith('"') else "queue.NAME", key))
        return keys

    def test_conf5_keys_match_code(self):
        page = unroff(page_text("relaydesk.conf.5"))
        page_keys = set()
        group = None
        for line in page.splitlines():
            m = re.match(r"^\.SS \[(.+)\]$", line)
            if m:
                group = m.group(1)
            m = re.match(r"^\.B (\w+)$", line)
            if m and group:
                page_keys.add((group, m.group(1)))
        code = self.code_keys()
        self.assertGreater(len(code), 50)
        self.assertEqual(code - page_keys, set(), "keys the code reads that relaydesk.conf(5) lacks")
        # Some modules read their group through a helper of their own
        # (relay/: get_duration (config, "lifetime")): a key on the page
        # counts as read when a source file names it and its group.
        texts = [t for _, t in self.sources()]
        unread = sorted((g, k) for (g, k) in page_keys - code
                        if not any(f'"{k}"' in t and (g == "queue.NAME" or f'"{g}"' in t) for t in texts))
        self.assertEqual(unread, [], "keys on relaydesk.conf(5) that no code reads")

    def test_pages_render(self):
        if shutil.which("man") is None:
            print("SKIP: man is missing (Debian package man-db)", file=sys.stderr)
            sys.exit(77)
        pages = ["relaydesk.8", "relaydesk.conf.5", os.path.join(SOURCE, "man", "relaydesk-sieve.7")]
        for p in pages:
            path = p if os.path.isabs(p) else os.path.join(MAN, p)
            r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                               env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0", PAGER="cat"),
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "", f"{p}: {r.stderr}")
            text = re.sub(".\x08", "", r.stdout)   # overstrike (bold, underline)
            self.assertTrue(text.lstrip().startswith("RELAYDESK"), text[:200])
            self.assertIn("\nNAME\n", text)

    def test_installed_conf(self):
        conf = os.path.join(MAN, "relaydesk.conf")
        p = subprocess.run([RELAYDESK, "config", "check", "--config", conf], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("user = relaydesk\n", p.stdout)
        self.assertIn("listen = 0.0.0.0:25\n", p.stdout)
        self.assertIn("max_message_size = 25M    # default\n", p.stdout)
        tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"rd-conf-{os.getpid()}.conf")
        with open(conf) as f:
            text = f.read()
        with open(tmp, "w") as f:
            f.write(text.replace("#max_recipients = 100", "max_recipents = 100"))
        try:
            line = text.splitlines().index("#max_recipients = 100") + 1
            p = subprocess.run([RELAYDESK, "config", "check", "--config", tmp], capture_output=True, text=True)
            self.assertEqual(p.returncode, 78)
            self.assertIn(f"{tmp}:{line}: [smtp] max_recipents: unknown key", p.stderr)
        finally:
            os.unlink(tmp)


if __name__ == "__main__":
    unittest.main(verbosity=2)

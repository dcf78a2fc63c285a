#!/usr/bin/python3
"""Builds the Debian package, checks it with lintian, installs it on this
machine and runs the installed relaydesk as the relaydesk user.

Slow (a package build: minutes), so it is not part of `meson test`:
.ci/run runs it after ./quickstart test. As root (CI is), on Debian 12:

    python3 tests/debian/package_test.py [--keep] [--save FILE.deb | --deb FILE.deb]

It builds from a copy of the source tree (git's files), then:
  - lintian: no error or warning that debian/relaydesk.lintian-overrides
    does not explain (the tags are printed);
  - dpkg -i: the relaydesk system user made, /var/lib/relaydesk its own
    (0700), the config a conffile, relaydesk.service enabled and the socket
    unit not, `man relaydesk` found, systemd-analyze verify quiet;
  - the installed binary, started as root with the installed config,
    becomes the relaydesk user, takes a message over SMTP and files it;
    the CLI run through runuser as relaydesk lists the ticket;
  - dpkg -r keeps config and data, a reinstall finds the ticket again and
    keeps a changed config, dpkg --purge removes both.
In CI systemd is not PID 1: the maintainer scripts must succeed anyway
(deb-systemd-invoke skips the start).
"""
import os
import pwd
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONF = "/etc/relaydesk/relaydesk.conf"
failures = []


def run(*cmd, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def dpkg(*args):
    """dpkg, waiting for the lock while another apt or dpkg runs."""
    deadline = time.time() + 600
    while True:
        p = run("dpkg", *args, check=False)
        if p.returncode == 0 or "lock" not in p.stderr or time.time() > deadline:
            return p
        time.sleep(5)


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def installed():
    p = run("dpkg-query", "-W", "-f=${Status}", "relaydesk", check=False)
    return p.returncode == 0 and p.stdout.strip() != "unknown ok not-installed" and p.stdout.strip() != ""


def build(work):
    tree = os.path.join(work, "relaydesk")
    os.makedirs(tree)
    files = run("git", "-C", SOURCE, "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout
    for rel in filter(None, files.split("\0")):
        src = os.path.join(SOURCE, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.join(tree, os.path.dirname(rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(tree, rel))
    t0 = time.monotonic()
    p = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b", "-j2"], cwd=tree, capture_output=True, text=True)
    took = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"FAIL: dpkg-buildpackage exited {p.returncode}\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    debs = [f for f in os.listdir(work) if re.fullmatch(r"relaydesk_[^_]+_[a-z0-9]+\.deb", f)]
    check(len(debs) == 1, f"dpkg-buildpackage built {debs} in {took:.0f} s")
    return os.path.join(work, debs[0]), [os.path.join(work, f) for f in os.listdir(work) if f.endswith(".changes")][0]


def lintian(changes):
    if shutil.which("lintian") is None:
        check(False, "lintian is installed (Debian package lintian)")
        return
    p = run("lintian", "--display-info", "--show-overrides", changes, check=False)
    tags = [l for l in (p.stdout + p.stderr).splitlines() if re.match(r"^[EWIXNPO]: ", l)]
    print("lintian:")
    for t in tags:
        print("   " + t)
    bad = [t for t in tags if t.startswith(("E: ", "W: "))]
    check(bad == [], f"lintian: no error or warning left unexplained ({len(tags)} tags shown, "
                     f"{sum(t.startswith('O: ') for t in tags)} overridden with a reason)")


def wait_port(path, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return None
        try:
            text = open(path).read().strip()
            if text:
                return int(text)
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.1)
    return None


def serve_as_installed(work):
    os.chmod(work, 0o711)       # relaydesk must reach the run folder
    run_dir = os.path.join(work, "run")
    os.makedirs(run_dir)
    os.chmod(run_dir, 0o1777)   # the port file is written after the switch
    port_file = os.path.join(run_dir, "port")
    log = open(os.path.join(run_dir, "serve.log"), "w")
    proc = subprocess.Popen(["/usr/bin/relaydesk", "serve", "--config", CONF, "--smtp", "127.0.0.1:0",
                             "--smtps", "none", "--port-file", port_file], stdout=log, stderr=log)
    try:
        port = wait_port(port_file, proc)
        check(port is not None, "the installed relaydesk serve starts with the installed config")
        if port is None:
            print(open(os.path.join(run_dir, "serve.log")).read())
            return
        uid = pwd.getpwnam("relaydesk").pw_uid
        status = open(f"/proc/{proc.pid}/status").read()
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
        groups = re.search(r"^Groups:[ \t]*(.*)$", status, re.M).group(1).split()
        check(uids == [str(uid)] * 4 and groups == [], f"serve runs as relaydesk (uid {uid}), no groups: {uids} {groups}")
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as c:
            c.sendmail("alice@example.com", ["support@example.org"],
                       "From: alice@example.com\r\nSubject: packaged\r\nMessage-ID: <pkg@example.com>\r\n\r\nhi\r\n")
        listed = ""
        for _ in range(100):
            listed = run("runuser", "-u", "relaydesk", "--", "/usr/bin/relaydesk", "tickets", "list",
                         "--config", CONF, check=False).stdout
            if "packaged" in listed:
                break
            time.sleep(0.2)
        check("packaged" in listed, "the relaydesk user's CLI lists the ticket")
        v = run("/usr/bin/relaydesk", "verify", "--config", CONF, check=False)
        check(v.returncode == 0 and "no problems found" in v.stdout, "relaydesk verify (as root, run as relaydesk)")
        bad = [os.path.join(r, n) for r, ds, fs in os.walk("/var/lib/relaydesk") for n in ds + fs
               if os.lstat(os.path.join(r, n)).st_uid != uid]
        check(bad == [], f"every file in /var/lib/relaydesk is relaydesk's {bad}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            check(proc.wait(30) == 0, "serve stops cleanly on SIGTERM")
        except subprocess.TimeoutExpired:
            proc.kill()
            check(False, "serve stops on SIGTERM")
        log.close()


def main():
    if os.geteuid() != 0:
        print("SKIP: the package test installs a package: run it as root")
        return 77
    for tool in ("dpkg-buildpackage", "dh", "fakeroot"):
        if shutil.which(tool) is None:
            print(f"FAIL: {tool} is missing (.ci/packages.d/mta.txt lists its package)")
            return 1
    t_start = time.monotonic()
    if installed():
        dpkg("--purge", "relaydesk")
    if shutil.which("userdel") and run("getent", "passwd", "relaydesk", check=False).returncode == 0:
        run("userdel", "relaydesk", check=False)   # so that the package is seen making it
        run("groupdel", "relaydesk", check=False)
    work = tempfile.mkdtemp(prefix="rd-deb-")
    try:
        if "--deb" in sys.argv:
            # A package built before (development): --deb FILE.deb
            deb = os.path.abspath(sys.argv[sys.argv.index("--deb") + 1])
        else:
            deb, changes = build(work)
            lintian(changes)
            if "--save" in sys.argv:
                shutil.copy(deb, sys.argv[sys.argv.index("--save") + 1])

        p = dpkg("-i", deb)
        check(p.returncode == 0, "dpkg -i succeeds (systemd is not PID 1 here)" + ("" if p.returncode == 0 else p.stderr))
        if p.returncode != 0:
            raise SystemExit("FAIL: the package did not install:\n" + p.stdout + p.stderr)
        pw = pwd.getpwnam("relaydesk")
        check(pw.pw_dir == "/var/lib/relaydesk" and pw.pw_uid < 1000, f"system user relaydesk (uid {pw.pw_uid})")
        st = os.stat("/var/lib/relaydesk")
        check((st.st_uid, st.st_mode & 0o777) == (pw.pw_uid, 0o700), "/var/lib/relaydesk is relaydesk's, 0700")
        conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "relaydesk").stdout
        check(CONF in conffiles, f"{CONF} is a conffile")
        check(os.path.islink("/etc/systemd/system/multi-user.target.wants/relaydesk.service"),
              "relaydesk.service is enabled")
        check(not os.path.exists("/etc/systemd/system/sockets.target.wants/relaydesk.socket"),
              "relaydesk.socket is installed, not enabled")
        for page, where in (("relaydesk", "man8/relaydesk.8"), ("relaydesk.conf", "man5/relaydesk.conf.5"),
                            ("relaydesk-sieve", "man7/relaydesk-sieve.7")):
            m = run("man", "-w", page, check=False)
            check(where in m.stdout, f"man {page} finds {m.stdout.strip()}")
        c = run("/usr/bin/relaydesk", "config", "check", "--config", CONF, check=False)
        check(c.returncode == 0 and "user = relaydesk" in c.stdout, "the installed config passes config check")
        if shutil.which("systemd-analyze"):
            a = run("systemd-analyze", "verify", "--man=no", "/lib/systemd/system/relaydesk.service",
                    "/lib/systemd/system/relaydesk.socket", check=False)
            ours = [l for l in a.stderr.splitlines() if "relaydesk" in l]
            check(a.returncode == 0 and ours == [], "systemd-analyze verify of the installed units " + a.stderr)
            s = run("systemd-analyze", "security", "--offline=true", "--no-pager",
                    "/lib/systemd/system/relaydesk.service", check=False)
            m = re.search(r"Overall exposure level for relaydesk.service: (\S+ \S+)", s.stdout)
            print(f"     systemd-analyze security: {m.group(1) if m else s.stdout[-300:]}")

        serve_as_installed(work)

        check(dpkg("-r", "relaydesk").returncode == 0, "dpkg -r succeeds")
        check(os.path.exists(CONF), "dpkg -r keeps the config")
        check(os.path.exists("/var/lib/relaydesk/relaydesk.db"), "dpkg -r keeps the data")
        with open(CONF, "a") as f:
            f.write("# changed by the admin\n")
        p = dpkg("-i", deb)
        check(p.returncode == 0, "reinstall succeeds")
        check(open(CONF).read().endswith("# changed by the admin\n"), "reinstall keeps the admin's config")
        listed = run("runuser", "-u", "relaydesk", "--", "/usr/bin/relaydesk", "tickets", "list", "--config", CONF,
                     check=False).stdout
        check("packaged" in listed, "reinstall finds the ticket")
        check(dpkg("--purge", "relaydesk").returncode == 0, "dpkg --purge succeeds")
        check(not os.path.exists("/var/lib/relaydesk"), "purge removes /var/lib/relaydesk")
        check(not os.path.exists("/etc/relaydesk"), "purge removes /etc/relaydesk")
    finally:
        if installed() and "--keep" not in sys.argv:
            dpkg("--purge", "relaydesk")
        shutil.rmtree(work, ignore_errors=True)
    print(f"package test: {time.monotonic() - t_start:.0f} s")
    print("package test: " + (f"{len(failures)} check(s) FAILED: {failures}" if failures else "every check passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

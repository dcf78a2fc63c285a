"""[relaydesk] user: serve started as root gives up root after binding.

Runs as root (CI does) with a system user made for the test (useradd) and
removed after it: the process's uids, gids and groups after start; every
file of the data directory owned by that user, also after CLI commands run
as root; a data directory owned by someone else is a clear start-up error;
root without a user set gets a warning.
"""
import os
import pwd
import shutil
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdtest  # noqa: E402


def proc_ids(pid):
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups", "CapEff", "CapPrm"):
                ids[key] = value.split()
    return ids


class PrivilegesTest(rdtest.RelaydeskTestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            print("SKIP: the privilege drop is tested as root (CI runs as root)", file=sys.stderr)
            sys.exit(77)
        if shutil.which("useradd") is None:
            print("SKIP: useradd is missing (Debian package passwd)", file=sys.stderr)
            sys.exit(77)
        cls.user = f"rdtest{os.getpid()}"
        subprocess.run(["useradd", "--system", "--no-create-home", "--user-group",
                        "--shell", "/usr/sbin/nologin", cls.user], check=True)
        cls.pw = pwd.getpwnam(cls.user)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["userdel", cls.user], check=False)
        subprocess.run(["groupdel", cls.user], check=False, stderr=subprocess.DEVNULL)

    def setUp(self):
        super().setUp()
        # The user must reach the data directory and write the port file
        # beside it (written once listening, after the switch).
        os.chmod(self.tmp, 0o1777)

    def config(self, text):
        path = os.path.join(self.tmp, "relaydesk.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def owners(self):
        bad = []
        for root, dirs, files in os.walk(self.data):
            for n in dirs + files:
                st = os.lstat(os.path.join(root, n))
                if (st.st_uid, st.st_gid) != (self.pw.pw_uid, self.pw.pw_gid):
                    bad.append((os.path.join(root, n), st.st_uid, st.st_gid))
        return bad

    def test_drop_after_bind(self):
        conf = self.config(f"[relaydesk]\nuser = {self.user}\n")
        s = self.serve(config=conf)
        ids = proc_ids(s.proc.pid)
        uid, gid = str(self.pw.pw_uid), str(self.pw.pw_gid)
        self.assertEqual(ids["Uid"], [uid] * 4)     # real, effective, saved, filesystem
        self.assertEqual(ids["Gid"], [gid] * 4)
        self.assertEqual(ids["Groups"], [])         # supplementary groups cleared
        self.assertEqual(int(ids["CapEff"][0], 16), 0)
        self.assertEqual(int(ids["CapPrm"][0], 16), 0)
        with smtplib.SMTP("127.0.0.1", s.port, timeout=10) as c:
            c.sendmail("alice@example.com", ["support@example.org"],
                       "From: alice@example.com\r\nSubject: dropped\r\n\r\nhi\r\n")
        # The CLI, run as root with the same config, becomes the user too.
        t = self.wait_for(lambda: self.rd_json("tickets", "list", "--config", conf), what="a ticket")
        self.assertEqual(t[0]["subject"], "dropped")
        st = os.stat(self.data)
        self.assertEqual(st.st_mode & 0o777, 0o700)
        self.assertEqual(self.owners(), [])
        self.assertEqual(s.stop(), 0)
        self.assertIn("serve.privileges user=%s uid=%s" % (self.user, uid), s.read_log())
        # With serve stopped, root's CLI reopens the database (-wal, -shm
        # made again) as the user: still no file of root's.
        self.rd("tickets", "list", "--config", conf)
        self.rd("verify", "--config", conf)
        self.assertEqual(self.owners(), [])

    def test_data_dir_of_someone_else(self):
        os.makedirs(self.data)
        with open(os.path.join(self.data, "relaydesk.db"), "w"):
            pass   # root's, as if an earlier run as root made it
        os.chown(self.data, self.pw.pw_uid, self.pw.pw_gid)
        conf = self.config(f"[relaydesk]\nuser = {self.user}\n")
        p = subprocess.run([rdtest.RELAYDESK, "serve", "--data-dir", self.data, "--config", conf,
                            "--smtp", "127.0.0.1:0", "--smtps", "none"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 77, p.stderr)
        self.assertIn(f"the file {self.data}/relaydesk.db is owned by root (uid 0), not by {self.user}", p.stderr)
        self.assertIn(f"chown -R {self.user}: {self.data}", p.stderr)

        os.chown(os.path.join(self.data, "relaydesk.db"), self.pw.pw_uid, self.pw.pw_gid)
        os.chown(self.data, 0, 0)
        p = subprocess.run([rdtest.RELAYDESK, "serve", "--data-dir", self.data, "--config", conf,
                            "--smtp", "127.0.0.1:0", "--smtps", "none"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 77, p.stderr)
        self.assertIn(f"the data directory {self.data} is owned by root (uid 0)", p.stderr)

    def test_unknown_user_and_root_warning(self):
        conf = self.config("[relaydesk]\nuser = no-such-user-rd\n")
        p = subprocess.run([rdtest.RELAYDESK, "serve", "--data-dir", self.data, "--config", conf,
                            "--smtp", "127.0.0.1:0", "--smtps", "none"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn("[relaydesk] user: there is no user 'no-such-user-rd'", p.stderr)
        s = self.serve()
        s.stop()
        self.assertIn("warn privileges.root reason=\"running as root: set [relaydesk] user", s.read_log())


if __name__ == "__main__":
    rdtest.main()

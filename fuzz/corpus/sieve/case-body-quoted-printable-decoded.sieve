require ["body", "fileinto"];
if body :text :contains "softbreakword" { fileinto "soft-break"; }
if body :text :contains "café" { fileinto "utf8"; }
if body :text :contains "=C3=A9" { fileinto "still-encoded"; }

--message--
From: alice@example.com
To: support@example.org
Subject: qp
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

soft=
breakword caf=C3=A9
--b--

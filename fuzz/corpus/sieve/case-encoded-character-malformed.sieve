require ["encoded-character", "fileinto"];
fileinto "a${hex:}b${hex:zz}c${unicode:}d${hex:41 42}e${unicode:xyz}f${hex:4g}g${hex:41";

--message--
From: Alice Example <alice@example.com>
To: Support <support@example.org>
Subject: Invoice 12345 is wrong
Date: Mon, 15 Jan 2024 09:29:55 +0000
Message-ID: <case@example.com>

hi

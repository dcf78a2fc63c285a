require ["encoded-character", "fileinto"];
fileinto "x${unicode:110000}y";

--message--
From: Alice Example <alice@example.com>
To: Support <support@example.org>
Subject: Invoice 12345 is wrong
Date: Mon, 15 Jan 2024 09:29:55 +0000
Message-ID: <case@example.com>

hi

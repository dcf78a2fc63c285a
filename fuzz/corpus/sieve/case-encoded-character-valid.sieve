require ["encoded-character", "fileinto"];
fileinto "${unicode:48 65}llo-${hex: 63 61 66 C3 A9 }-${UNICODE:1F600}";

--message--
From: Alice Example <alice@example.com>
To: Support <support@example.org>
Subject: Invoice 12345 is wrong
Date: Mon, 15 Jan 2024 09:29:55 +0000
Message-ID: <case@example.com>

hi

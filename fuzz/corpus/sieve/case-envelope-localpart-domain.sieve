require ["fileinto", "envelope", "subaddress"];
if envelope :domain :is "from" "mail.example.com" { fileinto "from-domain"; }
if envelope :localpart :is "from" "bounce-1234" { fileinto "from-local"; }
if envelope :localpart :is "to" "support+billing" { fileinto "to-local"; }
if envelope :domain :is "to" "EXAMPLE.ORG" { fileinto "to-domain"; }
if envelope :user :is "to" "support" { fileinto "to-user"; }
if envelope :detail :is "to" "billing" { fileinto "to-detail"; }
if envelope :domain :is "from" "example.com" { fileinto "from-parent-domain"; }

--message--
From: Alice Example <alice@example.com>
To: Support <support@example.org>
Subject: Invoice 12345 is wrong
Date: Mon, 15 Jan 2024 09:29:55 +0000
Message-ID: <case@example.com>

hello

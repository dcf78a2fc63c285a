require ["variables", "envelope", "vacation", "date", "index", "body"];
if address :all :matches "from" "*" { set "a" "${1}"; }
if header :matches "subject" "*" { set "s" "${1}"; }
if date :index 1 :last "received" "date" "*" { set "d" "${1}"; }
if body :contains "x" { discard; }
vacation :subject "${s}" "${a}";
--message--
From: "A, B" <a@b.example>, (c) g: x@y.example, z@w.example;
To: =?ISO-8859-1?Q?=E9?= <t@example.org>
Subject: =?utf-8?B?w6k=?= =?koi8-r?Q?=C1?=
  folded
Received: from x; Thu, 18 Jan 2024 19:30:00 +0100

body x

require "fileinto";
if header :contains "bad name:" "x" { fileinto "bad"; }
if exists "with space" { fileinto "exists"; }
if header :contains ["subject", "in valid"] "Invoice" { fileinto "list-ok"; }

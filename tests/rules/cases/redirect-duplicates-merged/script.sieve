require "copy";
redirect "Ops@Example.NET";
redirect :copy "ops@example.net";
redirect "other@example.net";

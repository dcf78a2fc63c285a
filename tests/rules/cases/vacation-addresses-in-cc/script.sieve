require "vacation";
vacation :addresses ["Help@Example.org", "sales@example.org"] "We got it";

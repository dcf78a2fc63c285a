require "vacation";
vacation :addresses ["help@example.org"] "We got it";

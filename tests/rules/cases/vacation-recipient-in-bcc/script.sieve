require "vacation";
vacation "We got it";

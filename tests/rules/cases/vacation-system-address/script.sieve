require "vacation";
vacation "Away";

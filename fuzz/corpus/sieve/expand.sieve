require "variables"; set "a" "${a}${a}${a}${a}"; set "a" "${a}${a}${a}${a}"; redirect "${a}@x.example";

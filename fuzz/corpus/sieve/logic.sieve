if anyof(not true, allof(false, true)) { keep; }
# c
/* c */

require ["encoded-character", "fileinto"];
fileinto "a${hex:}b${hex:zz}c${unicode:}d${hex:41 42}e${unicode:xyz}f${hex:4g}g${hex:41";

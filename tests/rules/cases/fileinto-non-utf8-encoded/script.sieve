require ["encoded-character", "fileinto"];
fileinto "caf${hex:e9}";

require ["encoded-character", "fileinto"];
fileinto "x${unicode:110000}y";

require ["encoded-character", "fileinto"];
fileinto "${unicode:48 65}llo-${hex: 63 61 66 C3 A9 }-${UNICODE:1F600}";

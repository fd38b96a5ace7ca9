"""Language layer: sentence embeddings and phonetic similarity, shared by the thinker and the policies."""

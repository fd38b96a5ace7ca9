"""Memory layer: the episode knowledge base (store, recorder, rule summaries, hybrid retrieval, users, export/import)."""

"""FAQ knowledge base: entries, file format, embedding index and search."""

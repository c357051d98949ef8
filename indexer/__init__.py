"""Build a searchable passage index from report text: parse, chunk, embed, write the artifact."""

"""Knowledge bases: datasets of documents split into segments, and their retrieval engine."""

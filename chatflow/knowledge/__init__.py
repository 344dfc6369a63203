"""Knowledge bases: datasets of documents split into segments, and their retrieval engine.

`extract` turns uploaded files into text, `splitter` cuts text into chunks by Dify's
process rules, `index` (the retrieval engine) indexes and searches chunks, and
`filters` evaluates metadata conditions. Storage and HTTP live in `store` and `api`;
the orchestration in `services/knowledge*.py`.
"""

"""The third-party libraries code jobs may import: those Dify's sandbox image offers
Python code (`requests`, `httpx`, `jinja2`, with what they import).

The sandbox process runs without site-packages. Before it forks any job it imports
these from the server's site directory (given by the executor), patches `requests` and
`httpx` onto the network channel (`_network`), then drops the site directory from its
path again: jobs inherit the loaded modules, and nothing else from site-packages is
importable in a job.

Stdlib only at import: this module runs in the sandbox process.
"""

from __future__ import annotations

import importlib
import sys

from chatflow.sandbox import _network

OFFERED = ("requests", "httpx", "jinja2")
# Imported lazily by the offered libraries at call time; loaded up front so a job, which
# cannot read site-packages, finds them in memory.
ALSO_LOADED = (
    "idna",
    "idna.codec",
    "charset_normalizer",
    "certifi",
    "urllib3",
    "markupsafe",
    "jinja2.ext",
    "jinja2.sandbox",
    "requests.adapters",
    "requests.structures",
    "requests.utils",
    "encodings.idna",
)


def preload(site_dirs: list[str]) -> list[str]:
    """Import the offered libraries from `site_dirs`; the names that loaded."""
    if not site_dirs:
        return []
    saved = list(sys.path)
    sys.path.extend(site_dirs)
    loaded: list[str] = []
    try:
        for name in (*OFFERED, *ALSO_LOADED):
            try:
                importlib.import_module(name)
            except ImportError:
                continue
            if name in OFFERED:
                loaded.append(name)
        if "requests" in loaded:
            _network.patch_requests()
        if "httpx" in loaded:
            _network.patch_httpx()
    finally:
        sys.path[:] = saved
    return loaded

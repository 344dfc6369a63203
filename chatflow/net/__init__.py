"""Outbound networking for user-directed requests (http-request node, remote files)."""

from chatflow.net.ssrf import SSRFBlocked, SSRFPolicy, guarded_client

__all__ = ["SSRFBlocked", "SSRFPolicy", "guarded_client"]

"""Operations: request context, structured logs and Prometheus metrics.

Nothing here knows the engine's internals or HTTP routing; the API middleware and the
services feed it.
"""

"""Tools: the contract (`base`), the registry and runtime, and the built-in providers."""

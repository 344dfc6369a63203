"""Built-in tool providers, one module per provider."""

"""Built-in tool providers, one module per provider.

Each public module here defines `provider(settings: Settings) -> ToolProvider`; the
catalog (`chatflow.tools.catalog`) imports every module of this package and registers
what it returns, so adding a provider is adding a module.
"""

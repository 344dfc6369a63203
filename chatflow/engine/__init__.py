"""The graph engine: DSL workflow in, typed events out. No HTTP, no database."""

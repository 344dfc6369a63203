"""Grouped API resources; each module holds the sync and async class of one group."""

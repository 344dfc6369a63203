"""The Service API routers, one module per resource group; all mounted under `/v1`."""

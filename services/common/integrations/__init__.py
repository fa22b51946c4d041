"""Users' third-party credentials (provider API keys): the store, its encryption and the
platform-owned ("system") credentials from configuration."""

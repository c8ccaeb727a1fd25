"""Local lab servers: every network on loopback, for tests and ``bridgebot demo``."""

"""Network adapters: one module (or package) per network. Each exports ``SPEC``."""

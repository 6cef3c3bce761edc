"""Layer 3, Docker Scout: the GraphQL documents and their flows. Imports ``core``, ``auth``, ``state``."""

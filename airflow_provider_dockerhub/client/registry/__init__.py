"""Layer 3, the registry (Registry HTTP API v2 / OCI distribution): the API as flows, images and platforms,
the resumable blob upload, image copy, OCI layouts, digest watching. Imports ``core``, ``auth``, ``state``."""

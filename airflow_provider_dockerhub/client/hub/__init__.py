"""Layer 3, Docker Hub: the management API v2 as flows, its models, SCIM 2.0 and the pure SCIM sync planner.
Imports ``core``, ``auth``, ``state``."""

"""Layer 1, the foundation: effects and drivers (flow), errors, configuration, transport policy, pagination,
references, and the sync/async fronts. Imports nothing else of the client."""

"""Layer 4, policy: Docker Scout's policies evaluated locally on evidence (pure), and the evidence gathered from
the registry alone or from Scout. The pure engine imports only ``core``."""

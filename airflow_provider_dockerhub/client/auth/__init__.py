"""Layer 2, auth: challenges, where credentials may go (trust), token records, and the Hub and registry auth
flows. Imports only ``core``."""

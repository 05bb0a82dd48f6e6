"""Training layer: skorch nets built from trial configs, callbacks, trials."""

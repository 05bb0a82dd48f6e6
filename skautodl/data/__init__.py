"""Data preparation: validation, splits and featurization."""

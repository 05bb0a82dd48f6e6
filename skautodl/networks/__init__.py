"""PyTorch network families; ``registry`` maps family names to them."""

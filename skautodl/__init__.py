"""skautodl: automated deep learning as scikit-learn estimators.

``AutoDLClassifier`` and ``AutoDLRegressor`` search over neural network
configurations (PyTorch networks trained through skorch) within a time
budget and behave like any other scikit-learn estimator.
"""

from skautodl.estimators import AutoDLClassifier, AutoDLRegressor
from skautodl.persistence import load, save

__version__ = "0.1.0"

__all__ = ["AutoDLClassifier", "AutoDLRegressor", "__version__", "load", "save"]

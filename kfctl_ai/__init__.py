"""kfai: train models on Kubeflow Trainer by saying what you want."""

__version__ = "0.1.0"

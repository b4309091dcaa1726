"""PyTorch pieces: tensor data and augmentation, the training loop, evaluation."""

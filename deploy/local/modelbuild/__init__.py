"""Builds the real model and its quantized candidates; runs in its own environment (`.venv-models`)."""

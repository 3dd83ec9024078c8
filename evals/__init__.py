"""Category-tagged prompt sets: generated from templates, deterministic, in the shape of the shared prompt file."""

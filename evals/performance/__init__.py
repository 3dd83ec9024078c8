"""The performance stage of `quantgate validate`: the payoff half, measured next to the baseline."""

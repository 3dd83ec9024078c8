"""Analysis of stored comparisons: statistics, the regression policy, verdicts, the guard and the HTML report."""

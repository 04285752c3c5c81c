"""Review: plots and output files (the edges of the package: the only place that writes or draws)."""

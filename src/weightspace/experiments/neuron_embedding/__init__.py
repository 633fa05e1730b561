"""Experiments of the neuron-embedding paper: Table 1 (4.1), Table 2 (4.2), Table 3 and Figs. 3-4 (4.3)."""

"""Experiments of the neuron-embedding paper: Table 1 (4.1), Table 2 (4.2), Table 3 and Figs. 3-4 (4.3).

The recipes they share are in :mod:`._presets`; training the reference network
and Table 1's protocol are method, in :mod:`weightspace.neuron_embedding.training`.
"""

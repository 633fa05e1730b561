"""Experiments of the DWSNets paper, one module per section of the book.

The zoos they share, their splits and the training of every method live in
:mod:`weightspace.dws.zoos`; model sizes and the optimiser recipe several
sections use are picked by name from :mod:`weightspace.experiments.dws._presets`.
"""

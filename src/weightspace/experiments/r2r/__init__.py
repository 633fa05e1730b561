"""Experiments of the R2R report: function preservation (Section 3), widening and deepening (5.2), Table 1 (5.3).

One module per section: :mod:`.preservation`, :mod:`.widen_schedule`,
:mod:`.widen_convergence`, :mod:`.deepen_schedule`, :mod:`.deepen_convergence`
and :mod:`.neuroevolution`. The method (growing a network by a schedule,
training a teacher, the transforms of every stage) is :mod:`weightspace.r2r`;
the recipe of App. D is :data:`weightspace.r2r.presets.RECIPES`.
"""

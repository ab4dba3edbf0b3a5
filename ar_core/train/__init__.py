"""Training: the X3DLearner, its configuration, the loop, checkpoints and data-parallel plumbing.

Import from the modules (e.g. `ar_core.train.learner`); this package imports nothing so that
`ar_core.eval` can use the loader and distributed helpers without a cycle.
"""

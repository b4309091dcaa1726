"""The neural-network playground: the TensorFlow Playground's data and model as a NumPy engine
(:mod:`~dllab.playground.engine`), linear regions of ReLU networks (:mod:`~dllab.playground.regions`), presets,
and a page served by ``dllab playground`` (:mod:`~dllab.playground.server`)."""

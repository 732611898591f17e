"""The one trainer for every method and native checkpoints (translating files is :mod:`initbench.translate`).

* :func:`initbench.training.trainer.train` (``initbench train``): any registered
  :class:`~initbench.methods.base.TrainableTranslator`, on one device or under ``torchrun``.
* :mod:`initbench.training.step`: one step (phases, the shared dict, frozen groups).
* :mod:`initbench.training.config`: :class:`TrainConfig`, presets ``tiny``/``paper``.
* :mod:`initbench.training.checkpoints`: ``save_checkpoint``, ``load_translator``, ``resolve_translator``.

A method tells the trainer which batch keys it needs through the members ``TrainableTranslator``
declares: ``needs_crops`` (instance crops, ``a_crops``...) and ``needs_half_scale`` (``a_half``...); its
variants (``--variant``) are values of a ``variant`` field of its config dataclass.
"""

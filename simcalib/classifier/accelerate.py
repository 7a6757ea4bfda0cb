"""Multi-GPU data-parallel training through skorch's ``AccelerateMixin``.

Importing this module imports Hugging Face ``accelerate`` (through skorch).
See ``benchmarks/train_multi_gpu.py`` for a runnable script::

    accelerate launch --multi_gpu --num_processes 4 benchmarks/train_multi_gpu.py
"""

from __future__ import annotations

from skorch.hf import AccelerateMixin

from simcalib.classifier.estimator import SimilarityLSClassifier

__all__ = ["AccelerateSimilarityLSClassifier"]


class AccelerateSimilarityLSClassifier(AccelerateMixin, SimilarityLSClassifier):
    """:class:`SimilarityLSClassifier` trained data-parallel with ``accelerate``.

    ``accelerator.prepare`` wraps the module (DistributedDataParallel when
    launched with several processes) and the optimizer; every process keeps
    the data on its own GPU and reads a disjoint shard of each epoch's
    permutation (:class:`~simcalib.classifier.DeviceBatchIterator` with
    ``num_replicas`` and ``rank``), so an epoch is split between the GPUs and
    the gradients are averaged by DDP. Mixed precision is this class's
    ``amp`` (bf16 autocast); create the ``Accelerator`` with
    ``mixed_precision="no"``. Prediction runs on the full data in every
    process. :class:`~simcalib.classifier.TrainingCheckpoint` is for
    single-process runs.

    Parameters
    ----------
    *args, **kwargs
        Those of :class:`SimilarityLSClassifier`; ``device`` must stay None
        (the accelerator places the data and module).
    accelerator : accelerate.Accelerator
        The accelerator of this process.
    unwrap_after_train : bool, default=True
        Unwrap the module from DDP at the end of training (so it pickles).

    Examples
    --------
    >>> from accelerate import Accelerator
    >>> clf = AccelerateSimilarityLSClassifier(
    ...     "small_cnn", accelerator=Accelerator(cpu=True), verbose=0)
    >>> clf.accelerator.num_processes
    1
    """

    def initialize(self):
        # AccelerateMixin.initialize does not call the parent's initialize
        self._initialize_generators()
        return super().initialize()

    def _compute_device(self):
        return str(self.accelerator.device)

    def _data_parallel(self):
        return self.accelerator.num_processes, self.accelerator.process_index

    def _backward(self, loss):
        self.accelerator.backward(loss)

    # our engine, not the mixin's: mixup and targets happen in our step, the
    # batches are already sharded and on the device, and every process
    # predicts on all of X (so nothing is gathered)
    train_step_single = SimilarityLSClassifier.train_step_single
    get_iterator = SimilarityLSClassifier.get_iterator
    evaluation_step = SimilarityLSClassifier.evaluation_step
    validation_step = SimilarityLSClassifier.validation_step

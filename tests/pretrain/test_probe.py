"""The online probe's fit on a few validation jets of many labels."""
import warnings

import numpy as np

from jetfm.pretrain.probe import probe_accuracy


def test_probe_on_few_jets_of_many_labels_is_quiet():
    # 60 jets of 30 labels (a small run's validation split): sklearn's "more unique classes
    # than half the samples: a regression problem?" warning was printed at every validation
    rng = np.random.default_rng(0)
    emb, labels = rng.normal(size=(60, 8)), np.arange(60) // 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        acc = probe_accuracy(emb, labels)
    assert 0.0 <= acc <= 1.0

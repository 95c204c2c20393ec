"""What Lightning prints that a jetfm user cannot act on stays off the terminal."""
import warnings

from lightning.pytorch.utilities import _pytree

from jetfm.pretrain.trainer import quiet_lightning


def test_no_deprecation_warning_about_lightnings_own_code():
    # Lightning flattens a batch with torch's deprecated LeafSpec (torch >= 2.10): one
    # FutureWarning per pretrain/transfer run, printed between jetfm's own lines
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_lightning()
        _pytree._tree_flatten(1.0)
    assert not [str(w.message) for w in caught if "LeafSpec" in str(w.message)]

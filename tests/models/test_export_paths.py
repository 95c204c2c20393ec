"""Graph capture must not freeze data-dependent shapes (trim length, sparse pair list)."""
import pytest
import torch

from jetfm.models import build_model
from jetfm.models.export import INPUT_NAMES, OUTPUT_NAMES, ProbsAndEmbedding, export_onnx

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # legacy TorchScript exporter
    pytest.mark.filterwarnings("ignore:Constant folding:UserWarning"),
]


@pytest.fixture(scope="module")
def wrapped():
    torch.manual_seed(0)
    return ProbsAndEmbedding(build_model("tiny")).eval()  # jetfm's export wrapper


def test_traced_model_generalises_to_other_lengths(wrapped, jets):
    example = jets([12, 9, 4], 12)
    traced = torch.jit.trace(wrapped, example, check_trace=False)
    x, v, mask = jets([5, 18, 2, 1], 24, seed=4)  # other N, P and longest jet
    with torch.no_grad():
        expected = wrapped(x, v, mask)
        got = traced(x, v, mask)
    for a, b in zip(got, expected):
        assert torch.allclose(a, b, atol=1e-5)


def test_onnx_export_matches_pytorch(wrapped, jets, tmp_path):
    """jetfm's own `export_onnx` (traced at its fixed shapes) at other N, P and lengths."""
    import onnxruntime as ort
    path = tmp_path / "part.onnx"
    export_onnx(wrapped.model, path, n_features=wrapped.model.config.input_dim, check=False)
    x, v, mask = jets([20, 3, 7, 1], 24, seed=4)
    session = ort.InferenceSession(str(path))
    feeds = dict(zip(INPUT_NAMES, (x.numpy(), v.numpy(), mask.numpy())))
    probs, emb = session.run(list(OUTPUT_NAMES), feeds)
    with torch.no_grad():
        ref_probs, ref_emb = wrapped(x, v, mask)
    assert abs(probs - ref_probs.numpy()).max() < 1e-5
    assert abs(emb - ref_emb.numpy()).max() < 1e-5

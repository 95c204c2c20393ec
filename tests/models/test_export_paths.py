"""Graph capture must not freeze data-dependent shapes (trim length, sparse pair list)."""
import pytest
import torch

from jetfm.models import build_model

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # legacy TorchScript exporter
    pytest.mark.filterwarnings("ignore:Constant folding:UserWarning"),
]


class ProbsAndEmbedding(torch.nn.Module):
    """Sophon's export convention: [class probabilities, 128-d embedding]."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, v, mask):
        out = self.model(x, v, mask)
        return torch.softmax(out.logits, dim=1), out.embedding


@pytest.fixture(scope="module")
def wrapped():
    torch.manual_seed(0)
    return ProbsAndEmbedding(build_model("tiny")).eval()  # default: trim + sparse pairs


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
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path = tmp_path / "part.onnx"
    names = ["x", "v", "mask"]
    torch.onnx.export(
        wrapped, jets([12, 9, 4], 12), str(path), input_names=names,
        output_names=["probs", "embedding"], opset_version=17, dynamo=False,
        dynamic_axes={k: {0: "N", 2: "P"} for k in names},
    )
    wrapped.eval()  # the exporter restores the mode it found; keep eval regardless
    x, v, mask = jets([20, 3, 7, 1], 24, seed=4)
    session = ort.InferenceSession(str(path))
    probs, emb = session.run(None, {"x": x.numpy(), "v": v.numpy(), "mask": mask.numpy()})
    with torch.no_grad():
        ref_probs, ref_emb = wrapped(x, v, mask)
    assert abs(probs - ref_probs.numpy()).max() < 1e-5
    assert abs(emb - ref_emb.numpy()).max() < 1e-5

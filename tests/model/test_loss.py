import pytest

torch = pytest.importorskip("torch")

from ran_edge.model.loss import ran_loss, rb_loss  # noqa: E402
from ran_edge.presets import AFFECTNET8, FERPLUS6  # noqa: E402


def test_rb_loss_uses_crops_only_for_the_max():
    # The full face (index 5) has the largest weight; a buggy max over all indices would see a
    # difference of 0 (loss = margin) or, like the reimplementation, drop crop 5.
    mu = torch.tensor([[0.10, 0.12, 0.14, 0.16, 0.13, 0.35]])
    expected = max(0.0, 0.1 - (0.16 - 0.35))
    assert rb_loss(mu, FERPLUS6).item() == pytest.approx(expected)


def test_rb_loss_margin_satisfied_and_vectorised():
    mu = torch.tensor([[0.30, 0.10, 0.10, 0.10, 0.10, 0.10], [0.1, 0.1, 0.1, 0.1, 0.1, 0.5]])
    # row 0: max crop 0.30 - full 0.10 = 0.2 >= 0.1 → 0; row 1: 0.1 - (0.1 - 0.5) = 0.5
    assert rb_loss(mu, FERPLUS6).item() == pytest.approx(0.25)
    assert rb_loss(mu, FERPLUS6, margin=0.0).item() == pytest.approx(0.2)


def test_full_face_index_comes_from_the_preset():
    mu = torch.zeros(1, 8)
    mu[0, 7] = 0.5  # affectnet8: full face is index 7
    mu[0, 0] = 0.2
    assert rb_loss(mu, AFFECTNET8).item() == pytest.approx(0.03 - (0.2 - 0.5))


def test_ran_loss_is_ce_plus_rb():
    logits = torch.randn(4, 7)
    target = torch.tensor([0, 1, 2, 3])
    mu = torch.softmax(torch.randn(4, 6), 1)
    total, ce, rb = ran_loss(logits, mu, target, FERPLUS6)
    assert total.item() == pytest.approx(ce.item() + rb.item())
    with pytest.raises(ValueError, match="expected"):
        rb_loss(torch.zeros(2, 5), FERPLUS6)

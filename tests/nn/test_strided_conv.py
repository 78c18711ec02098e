import pytest
import torch
import torch.nn.functional as F

from speechxl.nn.strided_conv import strided_conv, time_norm


@pytest.mark.parametrize("c_in, kernel, stride, length, bias", [
    (1, 10, 5, 203, False), (3, 3, 2, 20, False), (3, 3, 2, 21, True), (4, 2, 2, 17, True), (2, 7, 2, 30, False),
])
def test_strided_conv_matches_conv1d_and_passes_gradcheck(c_in, kernel, stride, length, bias):
    torch.manual_seed(0)
    x = torch.randn(2, length, c_in, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, c_in, kernel, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, dtype=torch.float64, requires_grad=True) if bias else None
    want = F.conv1d(x.transpose(1, 2), w, b, stride=stride).transpose(1, 2)
    torch.testing.assert_close(strided_conv(x, w, b, stride), want)
    assert torch.autograd.gradcheck(lambda *a: strided_conv(a[0], a[1], a[2] if bias else None, stride),
                                    (x, w, b if bias else torch.zeros(1)))


def test_time_norm_matches_group_norm_and_passes_gradcheck():
    torch.manual_seed(0)
    x = torch.randn(3, 40, 6, dtype=torch.float64, requires_grad=True) * 3 + 1
    w = torch.randn(6, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, dtype=torch.float64, requires_grad=True)
    want = F.group_norm(x.transpose(1, 2), 6, w, b, 1e-5).transpose(1, 2)
    torch.testing.assert_close(time_norm(x, w, b, 1e-5), want)
    assert torch.autograd.gradcheck(lambda *a: time_norm(*a, 1e-5), (x, w, b))

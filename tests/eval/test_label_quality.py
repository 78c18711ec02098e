import numpy as np
import pytest

from speechxl.eval.label_quality import purity


def test_one_cluster_per_phone_is_pure_and_one_cluster_for_all_tells_nothing():
    assert purity(np.diag([5, 3, 2])) == pytest.approx({"phone_purity": 1.0, "cluster_purity": 1.0, "pnmi": 1.0})
    one = purity(np.array([[5], [3], [2]]))
    assert one == pytest.approx({"phone_purity": 0.5, "cluster_purity": 1.0, "pnmi": 0.0})


def test_splitting_phones_over_clusters_keeps_pnmi_and_phone_purity_but_lowers_cluster_purity():
    split = purity(np.array([[2, 2, 0, 0], [0, 0, 3, 3]]))  # each phone over two clusters of its own
    assert split["phone_purity"] == pytest.approx(1.0) and split["pnmi"] == pytest.approx(1.0)
    assert split["cluster_purity"] == pytest.approx(0.5)
    mixed = purity(np.array([[8, 2], [2, 8]]))
    assert 0 < mixed["pnmi"] < 1 and mixed["phone_purity"] == pytest.approx(0.8)

"""The codebook analysis on code usage that is known."""

import json

import numpy as np
import pytest

from speechxl.eval.codebooks import analyse, classical_mds, combined_ids, perplexity, write_report
from speechxl.text.language_families import relatedness


def test_groups_combine_into_one_id_as_xlsr_counted_them():
    assert combined_ids(np.array([[0, 0], [0, 3], [2, 1]]), entries=4).tolist() == [0, 3, 9]


def test_perplexity_is_the_number_of_equally_used_codes():
    assert perplexity(np.array([5.0, 5, 5, 5, 0])) == pytest.approx(4.0)
    assert perplexity(np.array([9.0, 0, 0])) == pytest.approx(1.0)


def test_languages_that_share_codes_are_alike_and_cluster_together():
    rng = np.random.default_rng(0)
    romance = rng.integers(0, 50, 4000)  # es and it draw from codes 0-49, pl and ru from 40-89
    ids = {"es": romance, "it": rng.permutation(romance), "pl": rng.integers(40, 90, 4000),
           "ru": rng.integers(40, 90, 4000)}
    r = analyse(ids, space=100)
    langs, m = r["affinity"]["languages"], np.array(r["affinity"]["matrix"])
    a = lambda x, y: m[langs.index(x), langs.index(y)]  # noqa: E731
    assert a("es", "it") == pytest.approx(1.0) and a("es", "es") == 1.0
    assert 0.9 < a("pl", "ru") < 1.0 and a("es", "pl") < 0.6
    assert r["languages"]["es"]["codes_used"] == 50 and r["codes_used_by_all"] == 10  # codes 40-49
    assert r["languages"]["es"]["perplexity"] == pytest.approx(50, rel=0.02)
    assert r["pairs"][0]["a"] == "es" and r["pairs"][0]["b"] == "it"
    # the first merge of the clustering joins es and it (rows 0 and 1 of the sorted languages)
    assert sorted(r["linkage"][0][:2]) == [0.0, 1.0]
    # relatedness: es-it share three levels (Indo-European, Italic, Romance), es-pl one
    assert relatedness("es", "it") == 3 and relatedness("pl", "ru") == 3 and relatedness("es", "pl") == 1
    assert relatedness("tr", "es") == 0 and relatedness("xx", "xx") == 0
    means = {g["shared_levels"]: g["mean_affinity"] for g in r["by_relatedness"]}
    assert means[3] > means[1]


def test_disjoint_languages_have_affinity_zero():
    r = analyse({"a": np.array([0, 1, 0, 1]), "b": np.array([2, 3, 3, 2])}, space=4)
    assert r["affinity"]["matrix"][0][1] == pytest.approx(0.0, abs=1e-9) and r["codes_used_by_all"] == 0


def test_classical_scaling_keeps_distances_it_can():
    points = np.array([[0.0, 0], [3, 0], [0, 4]])
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    y = classical_mds(d)
    assert np.allclose(np.linalg.norm(y[:, None] - y[None], axis=-1), d)


def test_report_files(tmp_path):
    rng = np.random.default_rng(1)
    r = analyse({lang: rng.integers(0, 20, 500) for lang in ("el", "es", "ru")}, space=20)
    out = write_report(r, tmp_path, "Codebook usage")
    assert json.loads((out / "codebooks.json").read_text())["space"] == 20
    page = (out / "codebooks.html").read_text()
    assert "data:image/png;base64," in page and "<h2>Affinity by relatedness</h2>" in page
    assert "| Indo-European > Italic > Romance > West Ibero-Romance |" in (out / "codebooks.md").read_text()


def test_self_affinity_shows_what_sampling_leaves_of_a_perfect_one():
    rng = np.random.default_rng(2)
    few = analyse({"a": rng.integers(0, 200, 400), "b": rng.integers(0, 200, 40000)}, space=200)["languages"]
    many = analyse({"a": rng.integers(0, 200, 40000), "b": rng.integers(0, 200, 40000)}, space=200)["languages"]
    assert few["a"]["self_affinity"] < 0.8 < many["a"]["self_affinity"] < 1.0

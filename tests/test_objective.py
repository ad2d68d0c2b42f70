"""theory.objective against hand-computed values: AUC (mean over t = 0..T), code length in bits and
both compression ratios (t = 0 left out, as the paper defines them)."""

import math

import jax.numpy as jnp
import pytest

from theory import objective as OBJ

# T = 3 steps: L(theta_0..theta_3) in nats
CURVE = jnp.array([2.0, 1.5, 1.0, 0.5])


def test_auc_is_the_mean_over_all_t():
    assert float(OBJ.auc(CURVE)) == pytest.approx((2.0 + 1.5 + 1.0 + 0.5) / 4, rel=1e-7)


def test_code_length_is_nats_over_ln2():
    assert float(OBJ.code_length_bits(jnp.array([math.log(2.0), 2 * math.log(2.0)]))) == pytest.approx(3.0,
                                                                                                      rel=1e-6)


def test_paper_compression_ratio_leaves_out_t0():
    # CR = T log2|V| / sum_{t=1}^T L_t = 3 * 2 / (1.5 + 1.0 + 0.5) = 2 for |V| = 4
    assert float(OBJ.compression_ratio_paper(CURVE, 4)) == pytest.approx(2.0, rel=1e-7)
    # |V| = 2: 3 * 1 / 3 = 1
    assert float(OBJ.compression_ratio_paper(CURVE, 2)) == pytest.approx(1.0, rel=1e-7)


def test_bits_compression_ratio_is_raw_bits_over_code_bits():
    # raw: 3 * log2(4) = 6 bits; code: (1.5 + 1.0 + 0.5) / ln 2 bits
    expected = 6.0 / (3.0 / math.log(2.0))
    assert float(OBJ.compression_ratio_bits(CURVE, 4)) == pytest.approx(expected, rel=1e-6)
    assert float(OBJ.compression_ratio_bits(CURVE, 4)) == pytest.approx(2.0 * math.log(2.0), rel=1e-6)

"""JAX's random stream (threefry2x32, partitionable mode), bit for bit (spec: shared/spec/rng.md).

The stream is float32 (or bfloat16 / float16) *by definition*: every flavour follows the exact sequence of
float32 roundings that XLA:CPU performs. Every function takes batched keys: raw uint32 words of shape
``(*batch, 2)`` (one threefry key per batch element; the JAX flavour also takes typed keys) and draws for
all of them at once. ``dtype`` is ``"float32"``, ``"bfloat16"`` or ``"float16"`` (or the framework's dtype).

The algorithm (all words uint32, arithmetic modulo 2^32)::

    threefry2x32(k0, k1, x0, x1): 20 rounds, rotations R0 = (13, 15, 26, 6), R1 = (17, 29, 16, 24)
        ks = (k0, k1, k0 ^ k1 ^ 0x1BD11BDA);  x0 += ks0;  x1 += ks1
        for i in 1..5:  for r in (R0 if i odd else R1):  x0 += x1;  x1 = rotl(x1, r) ^ x0
                        x0 += ks[i % 3];  x1 += ks[(i + 1) % 3] + i
    key(seed)      = [0, seed mod 2^32]
    fold_in(k, d)  = threefry2x32(k, 0, d)
    split(k, n)[i] = threefry2x32(k, hi(i), lo(i))           (partitionable: == fold_in(k, i))
    bits(k)[i]     = y0 ^ y1 of threefry2x32(k, hi(i), lo(i)),  i the row-major flat index
    uniform        = bitcast((bits >> (w - nmant)) | bits(1.0)) - 1;  max(lo, f * (hi - lo) + lo)
    normal         = lowp(sqrt 2) * erfinv(uniform(k, lo=nextafter(-1, 0), hi=1))

``erfinv`` is XLA's single-precision Giles polynomial, ``log1p`` inside it is XLA:CPU's (a Cephes
rational for |x| < sqrt(2) - 1, else XLA:CPU's own Cephes-style logf of 1 + x), and every multiply-add
that XLA:CPU contracts is an FMA. The constants below are those numbers (polynomial coefficients highest
degree first); the proofs of exactness are parity_tests/test_rng_*.py.
"""

AREA = "rng"

#: Versions and backend against which bit-exactness was shown (exhaustively for float32 normals).
SHOWN_EXACT_AGAINST = "jax 0.10.2 / jaxlib 0.10.2, XLA:CPU (x86-64), jax_threefry_partitionable=True"

ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
KS_PARITY = 0x1BD11BDA
SQRT2_M1 = 0.41421356237309504880  # sqrt(2) - 1: log1p switches from the rational to log(1 + x)

# XLA:CPU log1p for |x| < sqrt(2) - 1 (Cephes): x - x^2/2 + x^3 * N(x) / D(x), highest degree first.
LOG1P_NUM = (4.5270000862445199635215e-5, 4.9854102823193375972212e-1, 6.5787325942061044846969e0,
             2.9911919328553073277375e1, 6.0949667980987787057556e1, 5.7112963590585538103336e1,
             2.0039553499201281259648e1)
LOG1P_DEN = (1.0, 1.5062909083469192043167e1, 8.3047565967967209469434e1, 2.2176239823732856465394e2,
             3.0909872225312059774938e2, 2.1642788614495947685003e2, 6.0118660497603843919306e1)
# XLA:CPU logf (Cephes style): log(m 2^e) with m in [sqrt(1/2), sqrt(2)), t = m - 1.
LOG_P = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
         -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)
LOG_Q1 = -2.12194440e-4  # log(2) = LOG_Q2 + LOG_Q1 (split for exactness of e * LOG_Q2)
LOG_Q2 = 0.693359375
# Giles' single-precision erfinv (XLA ErfInv32): w < 5 and w >= 5 branches, highest degree first.
ERFINV_SMALL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
ERFINV_LARGE = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def key(seed: int):
    """key(seed) = [0, seed mod 2^32]"""
    ...


def key_data(keys):
    """The raw key words: uint32 of shape (*batch, 2)."""
    ...


def split(keys, num=2):
    """split(k, num)[i] = threefry2x32(k, hi(i), lo(i)) == fold_in(k, i)"""
    ...


def fold_in(keys, data):
    """fold_in(k, d) = threefry2x32(k, 0, uint32(d)); ``data`` broadcasts against the batch shape."""
    ...


def bits(keys, shape):
    """uint32 of shape (*batch, *shape): bits(k)[i] = y0 ^ y1 of threefry2x32(k, hi(i), lo(i))."""
    ...


def uniform(keys, shape, dtype="float32", minval=0.0, maxval=1.0):
    """U[minval, maxval) of shape (*batch, *shape): max(lo, f * (hi - lo) + lo), f the unit floats."""
    ...


def normal(keys, shape, dtype="float32", exact=True):
    """N(0, 1) of shape (*batch, *shape): lowp(sqrt 2) * erfinv(u), u = uniform(lo=nextafter(-1, 0), hi=1)."""
    ...

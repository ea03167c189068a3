"""The numbers that define JAX's stream as XLA:CPU computes it (shared by the NumPy and torch flavours).

Threefry-2x32 rotations and key-schedule parity; XLA:CPU's log1p (Cephes rational below sqrt(2) - 1) and
logf; Giles' single-precision erf_inv. Polynomial coefficients are listed highest degree first.
"""

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

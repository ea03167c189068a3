"""JAX's random stream (threefry2x32, partitionable mode) reproduced in NumPy, bit for bit (contract: spec.py).

This is the oracle of the ``rng`` area. Unlike the other oracles it does not compute in float64: the
stream is float32 (or bfloat16 / float16) *by definition*, so the oracle follows the exact sequence of
float32 roundings that XLA:CPU performs.

The algorithm and its constants are in spec.py; every multiply-add that XLA:CPU contracts is an FMA
here (emulated exactly as ``float32(float64(a) * b + c)``: the product of
two float32 is exact in float64 and the sum never double-rounds on these inputs -- the exhaustive test
over all 2^23 float32 uniforms in ``parity_tests/test_rng_exhaustive.py`` is the proof).
"""

from __future__ import annotations

import numpy as np

from reference.rng import _args, _libm, semantics, spec

try:  # bfloat16 for NumPy; a dependency of jax, optional here
    import ml_dtypes as _ml_dtypes

    _BFLOAT16 = np.dtype(_ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - without ml_dtypes there is no bfloat16 in NumPy
    _BFLOAT16 = None

_U32 = np.uint32
_F32 = np.float32
_F64 = np.float64
_MASK32 = 0xFFFFFFFF


# --------------------------------------------------------------------------------------------------
# argument handling
# --------------------------------------------------------------------------------------------------


def _dtype(dtype) -> np.dtype:
    """float32 / bfloat16 / float16 from a NumPy dtype, a name, or anything with a ``name``."""
    name = _args.dtype_name(dtype)
    if name == "bfloat16":
        if _BFLOAT16 is None:
            raise ValueError("dtype: bfloat16 needs the ml_dtypes package")
        return _BFLOAT16
    return np.dtype(_F32) if name == "float32" else np.dtype(np.float16)


_shape = _args.shape


def _keys(keys) -> np.ndarray:
    k = np.asarray(keys)
    if k.ndim < 1 or k.shape[-1] != 2:
        raise ValueError(f"keys: expected raw keys of shape (*batch, 2), got shape {k.shape}")
    if k.dtype != _U32:
        if not np.issubdtype(k.dtype, np.integer):
            raise ValueError(f"keys: expected an integer array of 32-bit words, got dtype {k.dtype}")
        k = k.astype(_U32)  # int32 bit patterns (torch's storage) wrap to the same words
    return k


# --------------------------------------------------------------------------------------------------
# the block cipher
# --------------------------------------------------------------------------------------------------


def _rotl(x, r):
    return (x << _U32(r)) | (x >> _U32(32 - r))


def _threefry2x32(k0, k1, x0, x1):
    """Threefry-2x32 with 20 rounds: (y0, y1) = E_{(k0, k1)}(x0, x1), all uint32, broadcasting."""
    k0, k1 = np.asarray(k0, _U32), np.asarray(k1, _U32)
    x0, x1 = np.array(x0, _U32), np.array(x1, _U32)
    ks = (k0, k1, k0 ^ k1 ^ _U32(spec.KS_PARITY))
    with np.errstate(over="ignore"):
        x0 = x0 + ks[0]
        x1 = x1 + ks[1]
        for i in range(1, 6):
            for r in spec.ROTATIONS[(i - 1) % 2]:
                x0 = x0 + x1
                x1 = _rotl(x1, r) ^ x0
            x0 = x0 + ks[i % 3]
            x1 = x1 + (ks[(i + 1) % 3] + _U32(i))
    return x0, x1


def _counters(n: int):
    """(hi, lo) words of the flat indices 0..n-1."""
    i = np.arange(n, dtype=np.uint64)
    return (i >> np.uint64(32)).astype(_U32), (i & np.uint64(_MASK32)).astype(_U32)


# --------------------------------------------------------------------------------------------------
# keys
# --------------------------------------------------------------------------------------------------


def key(seed: int):
    """key(seed) = [0, seed mod 2^32] as a uint32 array of shape (2,) (JAX's 32-bit seeding)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed: expected an int, got {seed!r}")
    return np.array([0, int(seed) & _MASK32], dtype=_U32)


def key_data(keys):
    """The raw key words: uint32 of shape (*batch, 2)."""
    return _keys(keys).copy()


def split(keys, num=2):
    """split(k, num)[i] = threefry2x32(k, hi(i), lo(i)) == fold_in(k, i): shape (*batch, num, 2)."""
    k = _keys(keys)
    num = int(num)
    if num < 0:
        raise ValueError(f"num: expected a non-negative int, got {num}")
    if not semantics.active().partitionable:  # jax < 0.5: threefry over iota(2 num), output words in halves
        return _iota_words_original(k, 2 * num).reshape(k.shape[:-1] + (num, 2))
    hi, lo = _counters(num)
    y0, y1 = _threefry2x32(k[..., 0, None], k[..., 1, None], hi, lo)
    return np.stack([y0, y1], axis=-1)


def _fold_data(data):
    if isinstance(data, (bool, np.bool_)):
        data = int(data)
    if isinstance(data, int):
        if not 0 <= data <= _MASK32:
            raise ValueError(f"data: fold_in data must be in [0, 2^32) like JAX's uint32, got {data}")
        return np.asarray(data, _U32)
    d = np.asarray(data)
    if not np.issubdtype(d.dtype, np.integer):
        raise ValueError(f"data: fold_in data must be integers, got dtype {d.dtype}")
    return d.astype(_U32)  # integer arrays wrap modulo 2^32, as JAX's uint32 conversion does


def fold_in(keys, data):
    """fold_in(k, d) = threefry2x32(k, 0, uint32(d)); ``data`` broadcasts against the batch shape."""
    k = _keys(keys)
    d = _fold_data(data)
    y0, y1 = _threefry2x32(k[..., 0], k[..., 1], np.zeros_like(d), d)
    return np.stack([y0, y1], axis=-1)


# --------------------------------------------------------------------------------------------------
# bits and uniforms
# --------------------------------------------------------------------------------------------------


def _iota_words_original(k, n: int):
    """Non-partitionable threefry over the counters 0..n-1 (jax < 0.5): iota(n), padded with one zero to even
    length, split in halves (x0, x1); the output is y0 then y1, cut to n. uint32 of shape (*batch, n)."""
    if n >= (1 << 32) - 1:
        raise ValueError(f"shape: at most 2^32 - 2 words per key in the non-partitionable layout, got {n}")
    h = (n + 1) // 2
    c = np.zeros(2 * h, _U32)
    c[:n] = np.arange(n, dtype=np.uint64).astype(_U32)
    y0, y1 = _threefry2x32(k[..., 0, None], k[..., 1, None], c[:h], c[h:])
    return np.concatenate([y0, y1], axis=-1)[..., :n]


def _narrow_bits(keys, shape, w: int):
    """The ``w``-bit random values (w = 8, 16 or 32) JAX draws for a float of that many random bits, as uint32.

    Partitionable: the low ``w`` bits of ``bits``. Non-partitionable: ceil(n w / 32) words of the original
    layout, each unpacked into 32 / w values, low bits first."""
    if w == 32 or semantics.active().partitionable:
        b = bits(keys, shape)
        return b if w == 32 else b & _U32((1 << w) - 1)
    k = _keys(keys)
    shape = _shape(shape)
    n = int(np.prod(shape, dtype=np.int64))
    per = 32 // w
    words = _iota_words_original(k, -(-n * w // 32))
    parts = [(words >> _U32(w * j)) & _U32((1 << w) - 1) for j in range(per)]
    return np.stack(parts, axis=-1).reshape(k.shape[:-1] + (-1,))[..., :n].reshape(k.shape[:-1] + shape)


def bits(keys, shape):
    """uint32 of shape (*batch, *shape): bits(k)[i] = y0 ^ y1 of threefry2x32(k, hi(i), lo(i))."""
    k = _keys(keys)
    shape = _shape(shape)
    n = int(np.prod(shape, dtype=np.int64))
    if not semantics.active().partitionable:
        return _iota_words_original(k, n).reshape(k.shape[:-1] + shape)
    hi, lo = _counters(n)
    y0, y1 = _threefry2x32(k[..., 0, None], k[..., 1, None], hi, lo)
    return (y0 ^ y1).reshape(k.shape[:-1] + shape)


def _unit_floats(keys, shape, dt: np.dtype):
    """f in [0, 1) of dtype ``dt``: the top ``nmant`` of ``w`` random bits under the exponent of 1.0.

    w = 32 for float32, 16 for float16 and 8 for bfloat16 (JAX draws that many bits: the low w bits of the
    32-bit word).
    """
    if dt == _F32:
        w, nmant, ut = 32, 23, _U32
    elif dt == np.float16:
        w, nmant, ut = 16, 10, np.uint16
    else:  # bfloat16
        w, nmant, ut = 8, 7, np.uint16
    b = _narrow_bits(keys, shape, w).astype(ut)
    one = np.array(1.0, dt).view(ut)
    f = ((b >> ut(w - nmant)) | one).view(dt)
    return _rnd(f.astype(_F32) - _F32(1), dt)  # exact


def _rnd(x, dt):
    """Round a float32 result to ``dt`` (XLA:CPU computes bfloat16 / float16 ops in float32)."""
    return np.asarray(x, _F32).astype(dt)


def uniform(keys, shape, dtype="float32", minval=0.0, maxval=1.0):
    """U[minval, maxval) of shape (*batch, *shape): max(lo, f * (hi - lo) + lo), f the unit floats.

    float32: ``f * (hi - lo) + lo`` is one FMA, as XLA:CPU contracts it. bfloat16 / float16: each op in
    float32, rounded to the dtype. ``minval`` / ``maxval`` are scalars, rounded to ``dtype`` first.
    """
    dt = _dtype(dtype)
    f = _unit_floats(keys, shape, dt)
    lo = np.asarray(np.float32(minval), dt)  # JAX rounds Python bounds to float32, then to dtype
    hi = np.asarray(np.float32(maxval), dt)
    span = _rnd(hi.astype(_F32) - lo.astype(_F32), dt)
    if dt == _F32:
        u = _fma(f, span, lo)
    elif dt == np.float16 and semantics.active().f16_uniform_fma:  # one float16 FMA (jax >= 0.11, native f16)
        u = (f.astype(_F64) * span.astype(_F64) + lo.astype(_F64)).astype(dt)  # exact, then one rounding
    else:
        u = _rnd(_rnd(f.astype(_F32) * span.astype(_F32), dt).astype(_F32) + lo.astype(_F32), dt)
    # XLA's max orders -0.0 below +0.0 (minval = -0.0 gives +0.0 where f = 0); np.maximum returns its first argument
    return np.where(u == lo, np.where(np.signbit(u), lo, u), np.maximum(lo, u))


# --------------------------------------------------------------------------------------------------
# normals: XLA:CPU's float32 log1p and erfinv, op by op
# --------------------------------------------------------------------------------------------------


def _fma(a, b, c):
    """float32 fused multiply-add, exactly: the float64 product of two float32 is exact."""
    return (np.asarray(a, _F64) * np.asarray(b, _F64) + np.asarray(c, _F64)).astype(_F32)


def _madd(a, b, c):
    """The fast path's multiply-add: two float32 roundings."""
    return np.asarray(a, _F32) * np.asarray(b, _F32) + np.asarray(c, _F32)


def _horner(x, coeffs, fma=_fma):
    p = np.full(np.shape(x), _F32(coeffs[0]), _F32)
    for c in coeffs[1:]:
        p = fma(p, x, _F32(c))
    return p


def _xla_logf(y, _fma=_fma):
    """XLA:CPU float32 log for y > 0: log(m 2^e) = t - t^2/2 + t^3 P(t) + e log 2, t = m - 1."""
    y = np.maximum(np.asarray(y, _F32), np.array(0x00800000, _U32).view(_F32))  # flush denormals
    b = y.view(_U32)
    m = ((b & _U32(0x807FFFFF)) | np.array(0.5, _F32).view(_U32)).view(_F32)  # m in [0.5, 1)
    e = _F32(1) + ((b >> _U32(23)).astype(np.int32) - 127).astype(_F32)
    small = m < _F32(0.707106781186547524)
    e = e - small.astype(_F32)
    t = (m - _F32(1)) + np.where(small, m, _F32(0))  # m in [sqrt(1/2), sqrt(2)) after the shift
    t2 = t * t
    t3 = t2 * t
    p = [_F32(c) for c in spec.LOG_P]
    y0 = _fma(_fma(t, p[0], p[1]), t, p[2])
    y1 = _fma(_fma(t, p[3], p[4]), t, p[5])
    y2 = _fma(_fma(t, p[6], p[7]), t, p[8])
    poly = _fma(_fma(y0, t3, y1), t3, y2)
    r = _fma(poly, t3, _F32(spec.LOG_Q1) * e)
    t = _fma(_F32(-0.5), t2, t)
    return _fma(_F32(spec.LOG_Q2), e, t + r)


def _xla_log1p(x, _fma=_fma):
    """XLA:CPU float32 log1p: x - x^2/2 + x^3 N(x)/D(x) for |x| < sqrt(2) - 1, else logf(1 + x).

    The contraction of the small branch and the logf of the large one follow ``semantics.active()``."""
    x = np.asarray(x, _F32)
    sem = semantics.active()
    x2 = x * x
    ratio = _horner(x, spec.LOG1P_NUM, _fma) / _horner(x, spec.LOG1P_DEN, _fma)
    if sem.log1p_small == "fma_r" and _fma is not _madd:  # jax < 0.7: x^3 r fused with -x^2/2
        small = _fma(x * x2, ratio, _F32(-0.5) * x2) + x
    else:
        small = _fma(_F32(-0.5), x2, (x * x2) * ratio) + x
    is_small = np.abs(x) < _F32(spec.SQRT2_M1)
    if sem.log1p_large == "libm" and _fma is not _madd:
        large = np.zeros_like(x)
        large[~is_small] = _libm.logf(_F32(1) + x[~is_small])
    else:
        large = _xla_logf(_F32(1) + x, _fma)
    return np.where(is_small, small, large)


def _erfinv_f32(x, exact=True):
    """XLA's float32 erfinv (Giles):  w = -log1p(-x^2);  p = poly(w - 2.5) if w < 5 else poly(sqrt(w) - 3);
    erfinv(x) = p x.  ``exact``: XLA:CPU's log1p and FMA steps (bit-identical); else the same steps with
    a separately rounded multiply and add (within a few ulp)."""
    x = np.asarray(x, _F32)
    fma = _fma if exact else _madd
    w = -_xla_log1p(-(x * x), fma)
    lt = w < _F32(5)
    t = np.where(lt, w - _F32(2.5), np.sqrt(w.astype(_F64)).astype(_F32) - _F32(3))
    c_small = np.asarray(spec.ERFINV_SMALL, _F32)
    c_large = np.asarray(spec.ERFINV_LARGE, _F32)
    p = np.where(lt, c_small[0], c_large[0]).astype(_F32)
    for j in range(1, len(spec.ERFINV_SMALL)):
        c = np.where(lt, c_small[j], c_large[j])
        p = fma(p, t, c)
    r = p * x
    return np.where(np.abs(x) == _F32(1), x * _F32(np.finfo(_F32).max), r)


def normal(keys, shape, dtype="float32", exact=True):
    """N(0, 1) of shape (*batch, *shape): lowp(sqrt 2) * erfinv(u), u = uniform(lo=nextafter(-1, 0), hi=1).

    ``exact=True``: bit-identical to jax.random.normal on XLA:CPU. ``exact=False``: the same steps without
    FMA (a separately rounded multiply and add; within 4 ulp). bfloat16 / float16: erfinv in float32,
    rounded, times the rounded sqrt(2).
    """
    dt = _dtype(dtype)
    lo = np.nextafter(np.asarray(-1.0, dt), np.asarray(0.0, dt))
    u = uniform(keys, shape, dt, lo, 1.0)
    z = _rnd(_erfinv_f32(u.astype(_F32), exact=exact), dt)
    return _rnd(z.astype(_F32) * np.asarray(np.sqrt(2.0), dt).astype(_F32), dt)


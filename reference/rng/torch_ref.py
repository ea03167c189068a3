"""JAX's random stream (threefry2x32, partitionable mode) reproduced in PyTorch, bit for bit.

The contract and the algorithm: spec.py (the NumPy oracle: np_ref.py). Keys are
``torch.int32`` tensors of shape ``(*batch, 2)`` holding the uint32 bit patterns (CPU torch has no uint32
add or shifts); ``key_data`` and ``bits`` return ``torch.uint32`` tensors (``.numpy()`` works on them).
Key arguments may also be uint32 or int64 tensors / NumPy arrays of the raw words.

Word arithmetic is done in int32: +, *, ^, << wrap like uint32, and the logical right shift is an
arithmetic shift plus a mask; a Threefry round is five torch ops (rotl(x, r) = lsr(x, 32 - r)
+ x 2^r: a shift, a mask and one add with alpha). float32 normals follow XLA:CPU op by op: its log1p
(Cephes rational below sqrt(2) - 1, else its own logf of 1 + x), FMA-contracted Horner steps (emulated in
float64, exact: the product of two float32 is exact in float64), the square root in float64 (torch's
vectorised float32 sqrt is not correctly rounded on CPU). Large draws are processed in chunks of
``CHUNK`` elements (the cipher: ``CHUNK_1T`` with one torch thread) with reused buffers (fresh large
tensors cost page faults); the rare ``w >= 5`` erfinv branch (|u| > 0.9966, ~0.3% of draws) and the
``logf`` branch of log1p (|u| >= 0.6436) are evaluated only on the lanes that need them.
A float32 normal depends on 23 random bits only, so large exact draws gather from the table of all 2^23
values (``_normal_table()``, 32 MB, built once by the same op-by-op code in ~1 s): after the bits, the
op-by-op erfinv costs ~10x the table's gather (every FMA step is a float64 round trip).

Two paths, bit-identical: when a C compiler is there, ``_native.py`` compiles (once, cached) and loads the same
operations as one vectorised C loop per draw (Threefry, then erf_inv or the 16-bit lookup; also ``split`` /
``fold_in`` / ``_threefry2x32``): 1M exact normals ~1x ``torch.randn`` instead of ~6x. The pure-torch ops below
are the fallback (no compiler, or ``PARITY_RNG_NATIVE=0``); ``_native.status()`` says which path runs.

Bit-exactness shown against: see ``spec.SHOWN_EXACT_AGAINST``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from reference.rng import _args, _libm, _native, semantics, spec

CHUNK = 1 << 15  # elements per chunk: buffers stay in L2; at most torch's grain size, so one thread per op
CHUNK_1T = 1 << 16  # the cipher's chunk with one intra-op thread: 3 buffers = 768 KB (L2), half the dispatches


def _chunk() -> int:
    """Chunk of the Threefry stream: ``CHUNK_1T`` with one torch thread, else ``CHUNK`` (a larger chunk would
    split every op across threads: ~5x slower on a loaded 2-core machine)."""
    return CHUNK_1T if torch.get_num_threads() == 1 else CHUNK


_MASK32 = 0xFFFFFFFF


def _kernels():
    """The C kernels (``_native.py``: Threefry and the float32 normal in one vectorised loop, bit-identical to
    the torch ops below), or None: the pure-torch path. Tests patch this to run both paths."""
    return _native.lib()


def _kernel_erfinv() -> bool:
    """The kernels compute the default semantics' erf_inv (XLA:CPU's log1p: ``fma_half`` / ``xla``); the other
    JAX versions' variants (``semantics.py``) run on the pure-torch path."""
    sem = semantics.active()
    return (sem.log1p_small, sem.log1p_large) == ("fma_half", "xla")


def _key_pairs(k: torch.Tensor) -> torch.Tensor:
    """Keys (*batch, 2) -> contiguous (nkeys, 2) int32: the interleaved word pairs the kernels read."""
    return k.reshape(-1, 2).contiguous()


def _check_count(n: int) -> None:
    if n >= 1 << 32:
        raise ValueError(f"shape: at most 2^32 - 1 values per key, got {n}")
_I32, _F32, _F64 = torch.int32, torch.float32, torch.float64


def _f32(c: float) -> float:
    """The float32 rounding of a constant, as a Python float (exact in float64)."""
    return float(np.float32(c))


def _i32(w: int) -> int:
    """uint32 word -> the int32 with the same bits."""
    w &= _MASK32
    return w - (1 << 32) if w >= 1 << 31 else w


_LOG1P_NUM = tuple(_f32(c) for c in spec.LOG1P_NUM)
_LOG1P_DEN = tuple(_f32(c) for c in spec.LOG1P_DEN)
_LOG_P = tuple(_f32(c) for c in spec.LOG_P)
_ERF_S = tuple(_f32(c) for c in spec.ERFINV_SMALL)
_ERF_L = tuple(_f32(c) for c in spec.ERFINV_LARGE)
_SQRT_HALF_BITS = int(np.array(0.707106781186547524, np.float32).view(np.int32))  # 0x3F3504F3


# --------------------------------------------------------------------------------------------------
# argument handling
# --------------------------------------------------------------------------------------------------


def _dtype(dtype) -> torch.dtype:
    """float32 / bfloat16 / float16 from a torch dtype, a NumPy dtype or a name."""
    return {"float32": _F32, "bfloat16": torch.bfloat16, "float16": torch.float16}[_args.dtype_name(dtype)]


_shape = _args.shape


def _words(x, what: str) -> torch.Tensor:
    """Any integer tensor / array of uint32 words -> int32 tensor with the same bit patterns."""
    if not isinstance(x, torch.Tensor):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"{what}: expected integers (uint32 words), got dtype {x.dtype}")
        return torch.from_numpy(np.ascontiguousarray(x.astype(np.uint32)).view(np.int32))
    if x.dtype == torch.uint32:
        return x.view(_I32)
    if x.dtype == _I32:
        return x
    if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
        raise ValueError(f"{what}: expected integers (uint32 words), got dtype {x.dtype}")
    return (x.to(torch.int64) & _MASK32).to(_I32)  # wraps modulo 2^32


def _keys(keys) -> torch.Tensor:
    k = _words(keys, "keys")
    if k.dim() < 1 or k.shape[-1] != 2:
        raise ValueError(f"keys: expected raw keys of shape (*batch, 2), got shape {tuple(k.shape)}")
    return k


# --------------------------------------------------------------------------------------------------
# the block cipher, in place on int32 words
# --------------------------------------------------------------------------------------------------


_R_SHIFTS = {r: (torch.tensor(32 - r, dtype=_I32), torch.tensor((1 << r) - 1, dtype=_I32))
             for r in set(spec.ROTATIONS[0] + spec.ROTATIONS[1])}  # 0-d int32 operands: no scalar wrapping per op


def _schedule(k0, k1):
    """The key words and the five (x0, x1) key injections of Threefry-2x32, as int32 tensors."""
    k0, k1 = torch.as_tensor(k0, dtype=_I32), torch.as_tensor(k1, dtype=_I32)
    ks = (k0, k1, k0 ^ k1 ^ _i32(spec.KS_PARITY))
    return k0, k1, [(ks[i % 3], ks[(i + 1) % 3] + i) for i in range(1, 6)]


def _threefry_(k0, k1, x0, x1, tmp, keyed=False, sched=None):
    """Threefry-2x32 (20 rounds) on int32 words, in the three buffers ``x0``, ``x1``, ``tmp`` (same shape,
    contiguous, all overwritten); returns the output words (y0, y1), two of those buffers. ``k0`` / ``k1``
    int32 tensors broadcasting against ``x0`` / ``x1``; ``sched``: ``_schedule(k0, k1)`` if precomputed.
    ``keyed``: the caller has already done the key injection and the first round's add
    (x0 <- x0 + k0 + x1 + k1, x1 <- x1 + k1).

    Five ops per round: x0 += x1;  x1 <- rotl(x1, r) ^ x0 with rotl(x, r) = lsr(x, 32 - r) + x 2^r
    (disjoint bits, so + is |; int32 + and * wrap like uint32), lsr = the arithmetic shift plus a mask.
    Word-wise ops run on flat views (cheaper to dispatch than 2-d ones); key additions on the shaped ones."""
    lib = None if keyed or sched is not None else _kernels()
    if lib is not None:  # x0 / x1 are contiguous and of the full shape in every caller
        k0, k1 = (torch.as_tensor(w, dtype=_I32).expand(x0.shape).contiguous() for w in (k0, k1))
        p0, p1 = x0.data_ptr(), x1.data_ptr()
        lib.pt_threefry(k0.data_ptr(), k1.data_ptr(), p0, p1, x0.numel(), p0, p1)
        return x0, x1
    k0, k1, inject = sched if sched is not None else _schedule(k0, k1)
    if not keyed:
        x0.add_(k0)
        x1.add_(k1)
        x0.add_(x1)
    f0, f1, ft = x0.view(-1), x1.view(-1), tmp.view(-1)
    s1, st = x1, tmp
    for i in range(1, 6):
        for j, r in enumerate(spec.ROTATIONS[(i - 1) % 2]):
            right, mask = _R_SHIFTS[r]
            if i > 1 or j:
                f0.add_(f1)
            torch.bitwise_right_shift(f1, right, out=ft)
            ft.bitwise_and_(mask).add_(f1, alpha=1 << r).bitwise_xor_(f0)
            f1, ft, s1, st = ft, f1, st, s1
        a0, a1 = inject[i - 1]
        x0.add_(a0)
        s1.add_(a1)
    return x0, s1


def _threefry2x32(k0, k1, x0, x1):
    """Threefry-2x32 with 20 rounds: (y0, y1) = E_{(k0, k1)}(x0, x1), int32 bit patterns, broadcasting."""
    k0, k1, x0, x1 = torch.broadcast_tensors(*(_words(v, "threefry2x32 word") for v in (k0, k1, x0, x1)))
    x0, x1 = (x.clone(memory_format=torch.contiguous_format) for x in (x0, x1))  # the rounds use flat views
    return _threefry_(k0, k1, x0, x1, torch.empty_like(x1))


def _blocks(nkeys: int, n: int, chunk: int):
    """Chunks of the (nkeys, n) counter grid: (r0, r1, c0, c1), contiguous in row-major order."""
    if n == 0 or nkeys == 0:
        return
    if n <= chunk:
        rows = max(1, chunk // n)
        for r0 in range(0, nkeys, rows):
            yield r0, min(nkeys, r0 + rows), 0, n
    else:
        for r in range(nkeys):
            for c0 in range(0, n, chunk):
                yield r, r + 1, c0, min(n, c0 + chunk)


def _stream(keys: torch.Tensor, n: int, consume):
    """Run threefry on counters 0..n-1 for every key (flattened batch), chunk by chunk.

    ``consume(y0, y1, flat_start, flat_end)`` receives the two output words of each chunk (int32, shape
    (rows, cols), flat for a single key; reused buffers) and the chunk's range in the flat (nkeys * n) output.
    """
    _check_count(n)
    k = keys.reshape(-1, 2)
    nkeys = k.shape[0]
    chunk = _chunk()
    size = min(chunk, n) if n > chunk else max(1, chunk // max(n, 1)) * n
    size = min(size, nkeys * n)
    x0b = torch.empty(size, dtype=_I32)
    x1b = torch.empty(size, dtype=_I32)
    tmpb = torch.empty(size, dtype=_I32)
    cols = torch.arange(min(n, chunk), dtype=_I32)  # counter lo words of one chunk, offset per chunk
    one = _schedule(k[0, 0], k[0, 1]) if nkeys == 1 else None
    for r0, r1, c0, c1 in _blocks(nkeys, n, chunk):
        rows, ncols = r1 - r0, c1 - c0
        m = rows * ncols
        if nkeys == 1:  # flat buffers and 0-d key words: the cheapest to dispatch
            x0, x1, tmp = x0b[:m], x1b[:m], tmpb[:m]
            k0, k1, sched = one[0], one[1], one
        else:
            x0, x1, tmp = (b[:m].view(rows, ncols) for b in (x0b, x1b, tmpb))
            kk = k[r0:r1]
            k0, k1 = kk[:, :1], kk[:, 1:]
            sched = None
        # counter (hi, lo) = (0, c0 + col) below 2^32 values: key injection and the first add in two ops
        torch.add(cols[:ncols], k1 + _i32(c0) if c0 else k1, out=x1)  # wraps like uint32
        torch.add(x1, k0, out=x0)
        y0, y1 = _threefry_(k0, k1, x0, x1, tmp, keyed=True, sched=sched)
        consume(y0, y1, r0 * n + c0, r0 * n + c0 + m)


# --------------------------------------------------------------------------------------------------
# keys
# --------------------------------------------------------------------------------------------------


def key(seed: int):
    """key(seed) = [0, seed mod 2^32]: int32 tensor of shape (2,) holding the uint32 bit patterns."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed: expected an int, got {seed!r}")
    return torch.tensor([0, _i32(int(seed))], dtype=_I32)


def key_data(keys):
    """The raw key words: uint32 of shape (*batch, 2) (a torch.uint32 tensor)."""
    return _keys(keys).contiguous().clone().view(torch.uint32)


def split(keys, num=2):
    """split(k, num)[i] = threefry2x32(k, hi(i), lo(i)) == fold_in(k, i): shape (*batch, num, 2)."""
    k = _keys(keys)
    num = int(num)
    if num < 0:
        raise ValueError(f"num: expected a non-negative int, got {num}")
    if not semantics.active().partitionable:  # jax < 0.5: threefry over iota(2 num), output words in halves
        return _iota_words_original(k, 2 * num).reshape(k.shape[:-1] + (num, 2))
    x0 = torch.zeros(k.shape[:-1] + (num,), dtype=_I32)
    x1 = torch.arange(num, dtype=torch.int64).to(_I32).expand_as(x0).contiguous()
    x0, x1 = _threefry_(k[..., 0, None], k[..., 1, None], x0, x1, torch.empty_like(x1))
    return torch.stack([x0, x1], dim=-1)


def _fold_data(data) -> torch.Tensor:
    if isinstance(data, (bool, np.bool_)):
        data = int(data)
    if isinstance(data, int):
        if not 0 <= data <= _MASK32:
            raise ValueError(f"data: fold_in data must be in [0, 2^32) like JAX's uint32, got {data}")
        return torch.tensor(_i32(data), dtype=_I32)
    return _words(data, "data")  # integer arrays wrap modulo 2^32, as JAX's uint32 conversion does


def fold_in(keys, data):
    """fold_in(k, d) = threefry2x32(k, 0, uint32(d)); ``data`` broadcasts against the batch shape."""
    k = _keys(keys)
    d = _fold_data(data)
    k0, k1, d = torch.broadcast_tensors(k[..., 0], k[..., 1], d)
    x0 = torch.zeros(d.shape, dtype=_I32)
    x1 = d.clone(memory_format=torch.contiguous_format)  # contiguous: the rounds use flat views
    x0, x1 = _threefry_(k0, k1, x0, x1, torch.empty_like(x1))
    return torch.stack([x0, x1], dim=-1)


# --------------------------------------------------------------------------------------------------
# bits and uniforms
# --------------------------------------------------------------------------------------------------


def _iota_words_original(k: torch.Tensor, n: int) -> torch.Tensor:
    """Non-partitionable threefry over the counters 0..n-1 (jax < 0.5; see ``np_ref._iota_words_original``):
    int32 words of shape (*batch, n)."""
    if n >= (1 << 32) - 1:
        raise ValueError(f"shape: at most 2^32 - 2 words per key in the non-partitionable layout, got {n}")
    h = (n + 1) // 2
    c = torch.zeros(2 * h, dtype=torch.int64)
    c[:n] = torch.arange(n, dtype=torch.int64)
    c = ((c & _MASK32) ^ (1 << 31)).sub_(1 << 31).to(_I32)  # uint32 counters as int32 bit patterns
    shape = k.shape[:-1] + (h,)
    y0, y1 = _threefry2x32(k[..., 0, None], k[..., 1, None], c[:h].expand(shape), c[h:].expand(shape))
    return torch.cat([y0, y1], dim=-1)[..., :n]


def _narrow_bits_i32(keys, shape, w: int) -> torch.Tensor:
    """The ``w``-bit random values (w = 8 or 16) JAX draws for a low-precision float, as int32 of shape
    (*batch, *shape): the low ``w`` bits of ``bits`` (partitionable), or ceil(n w / 32) words of the original
    layout unpacked into 32 / w values each, low bits first."""
    if semantics.active().partitionable:
        return _bits_i32(keys, shape).bitwise_and_((1 << w) - 1)
    k = _keys(keys)
    shape = _shape(shape)
    n = math.prod(shape)
    words = _iota_words_original(k, -(-n * w // 32))
    parts = [torch.bitwise_right_shift(words, w * j).bitwise_and_((1 << w) - 1) for j in range(32 // w)]
    return torch.stack(parts, dim=-1).reshape(k.shape[:-1] + (-1,))[..., :n].reshape(k.shape[:-1] + shape)


def _bits_i32(keys, shape) -> torch.Tensor:
    k = _keys(keys)
    shape = _shape(shape)
    n = math.prod(shape)
    if not semantics.active().partitionable:
        return _iota_words_original(k, n).reshape(k.shape[:-1] + shape).contiguous()
    _check_count(n)  # before the allocation (2^32 words are 16 GB)
    out = torch.empty(k.shape[:-1] + shape, dtype=_I32)
    lib = _kernels()
    if lib is not None:
        kp = _key_pairs(k)
        lib.pt_bits(kp.data_ptr(), kp.shape[0], n, out.data_ptr())
        return out
    flat = out.view(-1)

    def consume(y0, y1, s, e):
        torch.bitwise_xor(y0, y1, out=flat[s:e].view(y0.shape))

    _stream(k, n, consume)
    return out


def bits(keys, shape):
    """uint32 of shape (*batch, *shape): bits(k)[i] = y0 ^ y1 of threefry2x32(k, hi(i), lo(i)) (torch.uint32)."""
    return _bits_i32(keys, shape).view(torch.uint32)


_LOWP = {torch.bfloat16: (8, 7, 0x3F80), torch.float16: (16, 10, 0x3C00)}  # bits drawn, mantissa, 1.0


def _unit_floats(keys, shape, dt):
    """f in [0, 1): the top ``nmant`` of ``w`` random bits under the exponent of 1.0, as float32 (exact)."""
    if dt == _F32:
        b = _bits_i32(keys, shape)
        b.bitwise_right_shift_(9).bitwise_and_(0x7FFFFF).bitwise_or_(0x3F800000)
    else:
        w, nmant, one = _LOWP[dt]
        b = _narrow_bits_i32(keys, shape, w).bitwise_right_shift_(w - nmant)
        b.bitwise_left_shift_(23 - nmant).bitwise_or_(0x3F800000)  # same value, float32 layout
    return b.view(_F32).sub_(1.0)


def uniform(keys, shape, dtype="float32", minval=0.0, maxval=1.0):
    """U[minval, maxval) of shape (*batch, *shape): max(lo, f * (hi - lo) + lo), f the unit floats.

    float32: ``f * (hi - lo) + lo`` is one FMA, as XLA:CPU contracts it. bfloat16 / float16: each op in
    float32, rounded to the dtype. ``minval`` / ``maxval`` are scalars, rounded to ``dtype`` first.
    """
    dt = _dtype(dtype)
    f = _unit_floats(keys, shape, dt)
    lo = float(torch.tensor(float(minval), dtype=_F32).to(dt))  # JAX: Python bound -> float32 -> dtype
    hi = float(torch.tensor(float(maxval), dtype=_F32).to(dt))
    span = float(torch.tensor(hi - lo, dtype=_F32).to(dt))
    if dt == _F32:
        if lo == 0.0 and span == 1.0:
            return f
        u = f.double().mul_(span).add_(lo).float()  # exact FMA: f * span is exact in float64
        return u.clamp_min_(lo)
    if dt == torch.float16 and semantics.active().f16_uniform_fma:  # one float16 FMA (jax >= 0.11, native f16)
        return torch.clamp_min(f.double().mul_(span).add_(lo).to(dt), lo)  # exact in float64, rounded once
    u = (f * span).to(dt).float().add_(lo).to(dt)
    return torch.clamp_min(u, lo)


# --------------------------------------------------------------------------------------------------
# normals: XLA:CPU's float32 log1p and erfinv, op by op
# --------------------------------------------------------------------------------------------------


class _Fma:
    """float32 FMA steps p <- fma(p, t, c), exact: computed in float64 (p * t is exact there) and
    rounded once to float32. ``wide(t)`` is the float64 copy of a float32 multiplier."""

    def __init__(self):
        self.buf = torch.empty(0, dtype=_F64)

    @staticmethod
    def wide(t):
        return t.double()

    def __call__(self, p32, t64, c):
        if self.buf.numel() < p32.numel():
            self.buf = torch.empty(p32.numel(), dtype=_F64)
        acc = self.buf[: p32.numel()].view(p32.shape)
        torch.mul(p32, t64, out=acc).add_(c)
        return p32.copy_(acc)


class _Madd:
    """The fast path's steps p <- p * t + c with two float32 roundings (what XLA:CPU does not do)."""

    @staticmethod
    def wide(t):
        return t

    def __call__(self, p32, t, c):
        return p32.mul_(t).add_(c)


def _xla_logf_(y: torch.Tensor, fma) -> torch.Tensor:
    """XLA:CPU float32 log for normal y > 0, in place: log(m 2^e) = t - t^2/2 + t^3 P(t) + e log 2.

    The mantissa is reduced to m in [sqrt(1/2), sqrt(2)) by integer arithmetic (t = m - 1 and e exactly
    as XLA's select of 2m - 1 / m - 1)."""
    ix = y.view(_I32).sub_(_SQRT_HALF_BITS)  # y is consumed
    e = torch.bitwise_right_shift(ix, 23).to(_F32)
    ix.bitwise_and_(0x7FFFFF).add_(_SQRT_HALF_BITS)
    t = ix.view(_F32).sub_(1.0)
    tw = fma.wide(t)
    t2 = t * t
    t3w = fma.wide(t2 * t)
    p = _LOG_P
    y0 = fma(torch.full_like(t, p[0]), tw, p[1])
    fma(y0, tw, p[2])
    y1 = fma(torch.full_like(t, p[3]), tw, p[4])
    fma(y1, tw, p[5])
    y2 = fma(torch.full_like(t, p[6]), tw, p[7])
    fma(y2, tw, p[8])
    fma(y0, t3w, fma.wide(y1))
    fma(y0, t3w, fma.wide(y2))
    fma(y0, t3w, fma.wide(e * _f32(spec.LOG_Q1)))  # r = fma(poly, t^3, Q1 e)
    t.sub_(t2, alpha=0.5)  # fma(-0.5, t^2, t): the product is exact
    t.add_(y0)
    return t.add_(e, alpha=spec.LOG_Q2)  # fma(Q2, e, .): Q2 e is exact


def _xla_log1p_neg_sq(u: torch.Tensor, fma) -> torch.Tensor:
    """XLA:CPU float32 log1p(x) at x = -u^2: x - x^2/2 + x^3 N(x)/D(x) for |x| < sqrt(2) - 1, else
    logf(1 + x). The logf branch runs on its lanes only."""
    x = torch.mul(u, u).neg_()
    xw = fma.wide(x)
    num = fma(torch.full_like(x, _LOG1P_NUM[0]), xw, _LOG1P_NUM[1])
    for c in _LOG1P_NUM[2:]:
        fma(num, xw, c)
    den = x + _LOG1P_DEN[1]  # fma(1, x, c1) == x + c1
    for c in _LOG1P_DEN[2:]:
        fma(den, xw, c)
    x2 = x * x
    sem = semantics.active()
    if sem.log1p_small == "fma_r" and isinstance(fma, _Fma):  # jax < 0.7: fma(x^3, N / D, -x^2 / 2) + x
        small = fma(torch.mul(x, x2), fma.wide(num.div_(den)), x2 * -0.5).add_(x)
    else:
        small = num.div_(den).mul_(x * x2)  # (x x^2) (N / D)
        small.sub_(x2, alpha=0.5).add_(x)
    is_large = x.abs() >= _f32(spec.SQRT2_M1)
    if bool(is_large.any()):
        idx = is_large.nonzero().squeeze(1)
        y = x.index_select(0, idx).add_(1.0)
        if sem.log1p_large == "libm" and isinstance(fma, _Fma):  # jax 0.7: the C library's logf
            small.index_copy_(0, idx, torch.from_numpy(_libm.logf(y.numpy())))
        else:
            small.index_copy_(0, idx, _xla_logf_(y, fma))
    return small


def _erfinv(u: torch.Tensor, fma) -> torch.Tensor:
    """XLA's float32 erfinv (Giles) of a flat float32 tensor; bit-exact to XLA:CPU with ``_Fma``."""
    w = _xla_log1p_neg_sq(u, fma).neg_()
    tw = fma.wide(w - 2.5)
    p = fma(torch.full_like(w, _ERF_S[0]), tw, _ERF_S[1])
    for c in _ERF_S[2:]:
        fma(p, tw, c)
    big = w >= 5.0
    if bool(big.any()):  # |u| > 0.9966: ~0.3% of lanes
        idx = big.nonzero().squeeze(1)
        tb = w.index_select(0, idx).double().sqrt_().float().sub_(3.0)  # sqrt rounded once
        tbw = fma.wide(tb)
        pb = fma(torch.full_like(tb, _ERF_L[0]), tbw, _ERF_L[1])
        for c in _ERF_L[2:]:
            fma(pb, tbw, c)
        p.index_copy_(0, idx, pb)
    return p.mul_(u)


def _erfinv_f32(x, exact=True):
    """XLA's float32 erfinv (Giles) of a float32 tensor: w = -log1p(-x^2);  p = poly(w - 2.5) if w < 5
    else poly(sqrt(w) - 3);  erfinv(x) = p x.  ``exact``: bit-identical to XLA:CPU (FMA steps); else the
    same steps with a separately rounded multiply and add (within a few ulp)."""
    x = torch.as_tensor(x, dtype=_F32)
    flat = x.reshape(-1).contiguous()
    out = torch.empty_like(flat)
    lib = _kernels() if exact and _kernel_erfinv() else None
    if lib is not None:
        lib.pt_erfinv_f32(flat.data_ptr(), flat.numel(), out.data_ptr())
    else:
        fma = _Fma() if exact else _Madd()
        for s in range(0, flat.numel(), CHUNK):
            out[s:s + CHUNK] = _erfinv(flat[s:s + CHUNK].clone(), fma)
    out = torch.where(flat.abs() == 1.0, flat * torch.finfo(_F32).max, out)
    return out.view(x.shape)


_SQRT2_F32 = _f32(math.sqrt(2.0))
_LOWP_TABLES: dict = {}


def _lowp_table(dt) -> torch.Tensor:
    """All 2^nmant normals of a 16-bit dtype, indexed by the nmant random bits (built once, exact)."""
    sem = semantics.active()
    key = (dt, sem.log1p_small, sem.log1p_large)
    if key not in _LOWP_TABLES:
        _, nmant, _ = _LOWP[dt]
        f = torch.arange(1 << nmant, dtype=_F32) / (1 << nmant)  # exact
        lo = -1.0 + 2.0 ** -(nmant + 1)  # nextafter(-1, 0) in the dtype
        span = float(torch.tensor(1.0 - lo, dtype=_F32).to(dt))
        u = torch.clamp_min((f * span).to(dt).float().add_(lo).to(dt), lo).float()
        z = _erfinv_f32(u).to(dt).float()
        _LOWP_TABLES[key] = (z * float(torch.tensor(math.sqrt(2.0), dtype=dt))).to(dt)
    return _LOWP_TABLES[key]


_F32_TABLE: list = []
_F32_TABLES: dict = {}  # (log1p_small, log1p_large) -> table, for the other JAX semantics


def _normal_table() -> torch.Tensor:
    """All 2^23 float32 normals, indexed by the 23 random bits m = bits >> 9 (32 MB, built once, exact).

    The uniform is u_m = 2 f + lo = (4 m - 2^24 + 1) 2^-24 exactly (an odd multiple of 2^-24 below 1 in
    magnitude, always representable), and the table holds f32(sqrt 2) * erfinv(u_m) computed by the
    chunked exact path: a draw is then one gather, bit-identical to computing it.
    """
    sem = semantics.active()
    variant = (sem.log1p_small, sem.log1p_large)
    if variant != ("fma_half", "xla"):
        if variant not in _F32_TABLES:
            _F32_TABLES[variant] = _build_table()
        return _F32_TABLES[variant]
    if not _F32_TABLE:
        _F32_TABLE.append(_build_table())
    return _F32_TABLE[0]


def _build_table() -> torch.Tensor:
    n = 1 << 23
    table = torch.empty(n, dtype=_F32)
    fma = _Fma()
    for s in range(0, n, CHUNK):
        m = torch.arange(s, min(n, s + CHUNK), dtype=torch.int32)
        u = m.mul_(4).sub_((1 << 24) - 1).to(_F32).mul_(2.0 ** -24)
        torch.mul(_erfinv(u, fma), _SQRT2_F32, out=table[s:s + u.numel()])
    return table


_NINE, _MANT = torch.tensor(9, dtype=_I32), torch.tensor(0x7FFFFF, dtype=_I32)
TABLE_MIN = 1 << 18  # exact float32 draws of at least this many values use ``_normal_table()``


def normal(keys, shape, dtype="float32", exact=True):
    """N(0, 1) of shape (*batch, *shape): lowp(sqrt 2) * erfinv(u), u = uniform(lo=nextafter(-1, 0), hi=1).

    ``exact=True``: bit-identical to jax.random.normal on XLA:CPU (draws of ``TABLE_MIN`` values or more
    gather from ``_normal_table()``, and so do draws of 4096 or more once the table exists -- call
    ``_normal_table()`` first to opt in; smaller draws compute op by op). ``exact=False``: the same steps without FMA
    (a separately rounded multiply and add; within 4 ulp), computed op by op, no table.
    bfloat16 / float16: erfinv in float32, rounded, times the
    rounded sqrt(2) -- looked up in the table of all 2^nmant values.
    """
    dt = _dtype(dtype)
    k = _keys(keys)
    shape = _shape(shape)
    lib = _kernels() if semantics.active().partitionable else None  # the kernels: the partitionable counter
    if lib is not None:
        _check_count(math.prod(shape))  # before any allocation
    if lib is not None and (dt != _F32 or (exact and _kernel_erfinv())):  # one loop: Threefry, erf_inv / lookup
        n = math.prod(shape)
        kp = _key_pairs(k)
        out = torch.empty(k.shape[:-1] + shape, dtype=dt)
        if dt == _F32:
            lib.pt_normal_f32(kp.data_ptr(), kp.shape[0], n, out.data_ptr())
        else:
            w, nmant, _ = _LOWP[dt]
            lib.pt_gather16(kp.data_ptr(), kp.shape[0], n, w, nmant, _lowp_table(dt).data_ptr(), out.data_ptr())
        return out
    if dt != _F32:
        w, nmant, _ = _LOWP[dt]
        idx = _narrow_bits_i32(k, shape, w).bitwise_right_shift_(w - nmant)
        return _lowp_table(dt)[idx.reshape(-1)].view(idx.shape)
    if not semantics.active().partitionable:
        return _normal_f32_from_bits(_bits_i32(k, shape), exact)
    n = math.prod(shape)
    out = torch.empty(k.shape[:-1] + shape, dtype=_F32)
    flat = out.view(-1)
    fma = _Fma() if exact else _Madd()
    lo = _f32(np.nextafter(np.float32(-1), np.float32(0)))
    use_table = exact and (flat.numel() >= TABLE_MIN or (bool(_F32_TABLE) and flat.numel() >= CHUNK // 8))
    table = _normal_table() if use_table else None  # once built (e.g. by calling _normal_table()), reused

    def consume(y0, y1, s, e):
        b = y0.bitwise_xor_(y1).view(-1)
        if table is not None:
            torch.index_select(table, 0, b.bitwise_right_shift_(_NINE).bitwise_and_(_MANT), out=flat[s:e])
            return
        # 2 f = bitcast((b >> 9) | bits(2.0)) - 2 exactly; u = 2 f + lo (>= lo: the max is a no-op)
        b.bitwise_right_shift_(9).bitwise_and_(0x7FFFFF).bitwise_or_(0x40000000)
        u = b.view(_F32).sub_(2.0).add_(lo)
        z = _erfinv(u, fma)
        torch.mul(z, _SQRT2_F32, out=flat[s:e])

    _stream(k, n, consume)
    return out


def _normal_f32_from_bits(b: torch.Tensor, exact: bool) -> torch.Tensor:
    """float32 normals from given random words (int32 bit patterns): the non-partitionable layout's path."""
    m = b.reshape(-1).bitwise_right_shift(9).bitwise_and_(0x7FFFFF)
    if exact and m.numel() >= TABLE_MIN:
        return _normal_table()[m].view(b.shape)
    u = m.bitwise_or_(0x40000000).view(_F32).sub_(2.0).add_(_f32(np.nextafter(np.float32(-1), np.float32(0))))
    fma = _Fma() if exact else _Madd()
    out = torch.empty_like(u)
    for s in range(0, u.numel(), CHUNK):
        torch.mul(_erfinv(u[s:s + CHUNK].clone(), fma), _SQRT2_F32, out=out[s:s + CHUNK])
    return out.view(b.shape)


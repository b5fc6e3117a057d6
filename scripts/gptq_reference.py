#!/usr/bin/python3
"""Independent numpy transcription of GPTQ's quant.py find_params and gptq.py
fasterquant (static_groups=False), used to derive the expected values of the
small GPTQ cases in tests/unit/test_weight_quantizer.cpp. Weights and grid in
float32 as the reference; H and its inverse in float64. Run: python3 this."""
import numpy as np

f32 = np.float32


def find_params(x, bits, sym):
    """x: [rows, n] float32 -> scale, zero per row (float32)."""
    maxq = f32(2**bits - 1)
    xmin = np.minimum(x.min(1), f32(0))
    xmax = np.maximum(x.max(1), f32(0))
    if sym:
        xmax = np.maximum(np.abs(xmin), xmax)
        xmin = np.where(xmin < 0, -xmax, xmin)
    both = (xmin == 0) & (xmax == 0)
    xmin = np.where(both, f32(-1), xmin)
    xmax = np.where(both, f32(1), xmax)
    scale = ((xmax - xmin) / maxq).astype(f32)
    zero = np.full_like(scale, (maxq + 1) / 2) if sym else np.round(-xmin / scale).astype(f32)
    return scale, zero


def quantize(w, scale, zero, bits):
    maxq = f32(2**bits - 1)
    code = np.clip(np.round(w / scale) + zero, 0, maxq).astype(f32)
    return code, (scale * (code - zero)).astype(f32)


def gptq(W, H, bits, group=0, sym=False, block=128, damp=0.01, act_order=False):
    W = W.astype(f32).copy()
    H = H.astype(np.float64).copy()
    rows, n = W.shape
    scale, zero = find_params(W, bits, sym)  # per channel: before dead columns
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    perm = np.arange(n)
    if act_order:
        perm = np.argsort(-np.diag(H), kind="stable")
        W, H = W[:, perm], H[perm][:, perm]
    H[np.arange(n), np.arange(n)] += damp * np.mean(np.diag(H))
    Hinv = np.linalg.cholesky(np.linalg.inv(H)).T  # upper factor of H^-1
    codes = np.zeros((rows, n), np.int64)
    scales, zeros = [], []
    for i1 in range(0, n, block):
        i2 = min(i1 + block, n)
        W1 = W[:, i1:i2].copy()
        Err1 = np.zeros_like(W1)
        for i in range(i2 - i1):
            c = i1 + i
            if group and c % group == 0:
                scale, zero = find_params(W[:, c:c + group], bits, sym)
                scales.append(scale)
                zeros.append(zero)
            code, q = quantize(W1[:, i], scale, zero, bits)
            codes[:, perm[c]] = code
            err = (W1[:, i] - q) / f32(Hinv[c, c])
            W1[:, i:] -= np.outer(err, Hinv[c, i1 + i:i2]).astype(f32)
            Err1[:, i] = err
        W[:, i2:] -= (Err1 @ Hinv[i1:i2, i2:]).astype(f32)
    if not group:
        scales, zeros = [scale], [zero]
    return codes, np.stack(scales, 1), np.stack(zeros, 1)


def show(name, result):
    codes, scales, zeros = result
    print(name)
    print("  codes ", codes.ravel().tolist())
    print("  scales", [float(s) for s in scales.ravel()])
    print("  scales (hex)", [float(s).hex() for s in scales.ravel()])
    print("  zeros ", zeros.ravel().astype(int).tolist())


W = np.array([[0.9, -0.3, 0.45, -1.2],
              [0.1, 0.25, -0.7, 0.6],
              [-0.5, 0.8, 0.05, 0.35]], f32)
H = np.array([[4.0, 1.2, -0.6, 0.3],
              [1.2, 2.0, 0.5, -0.4],
              [-0.6, 0.5, 3.0, 0.9],
              [0.3, -0.4, 0.9, 1.5]])
show("2 bits per channel", gptq(W, H, 2))
show("3 bits per channel", gptq(W, H, 3))
show("2 bits group 2 block 4", gptq(W, H, 2, group=2, block=4))
show("2 bits group 2 block 1", gptq(W, H, 2, group=2, block=1))
show("2 bits per channel act_order block 2", gptq(W, H, 2, act_order=True, block=2))
show("3 bits symmetric per channel block 2", gptq(W, H, 3, sym=True, block=2))

#!/usr/bin/env python3
"""Expected values for tests/test_optim.cpp: PyTorch's published update rules (torch.optim docs,
single-tensor paths), written out element by element in double precision. Prints, per case, the
parameter after each step. Run: python3 tests/optim_expected.py"""
import math

P0 = [1.0, -2.0, 3.0]
GRADS = [[1.0, -2.0, 0.5], [0.2, -0.5, 3.0], [-0.1, 0.1, 0.05]]  # the gradient at steps 1, 2, 3


def effective(g, p, wd, maximize):
    g = -g if maximize else g
    return g + wd * p if wd != 0 else g


def lerp(a, b, w):
    return a + w * (b - a) if w < 0.5 else b - (b - a) * (1 - w)


def sgd(lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False, maximize=False):
    p, buf, out = list(P0), None, []
    for G in GRADS:
        new_buf = []
        for i in range(3):
            g = effective(G[i], p[i], wd, maximize)
            if momentum != 0:
                b = g if buf is None else momentum * buf[i] + (1 - dampening) * g
                new_buf.append(b)
                g = g + momentum * b if nesterov else b
            p[i] = p[i] - lr * g
        buf = new_buf if momentum != 0 else None
        out.append(list(p))
    return out


def adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, wd=0.0, amsgrad=False, maximize=False, decoupled=False):
    b1, b2 = betas
    p, m, v, vmax, out = list(P0), [0.0] * 3, [0.0] * 3, [0.0] * 3, []
    for t, G in enumerate(GRADS, start=1):
        for i in range(3):
            if decoupled:
                p[i] *= 1 - lr * wd
            g = effective(G[i], p[i], 0.0 if decoupled else wd, maximize)
            m[i] = lerp(m[i], g, 1 - b1)
            v[i] = b2 * v[i] + (1 - b2) * g * g
            second = v[i]
            if amsgrad:
                vmax[i] = max(vmax[i], v[i])
                second = vmax[i]
            denom = math.sqrt(second) / math.sqrt(1 - b2 ** t) + eps
            p[i] = p[i] - lr / (1 - b1 ** t) * m[i] / denom
        out.append(list(p))
    return out


def rmsprop(lr=1e-2, alpha=0.99, eps=1e-8, wd=0.0, momentum=0.0, centered=False, maximize=False):
    p, v, ga, b, out = list(P0), [0.0] * 3, [0.0] * 3, [0.0] * 3, []
    for G in GRADS:
        for i in range(3):
            g = effective(G[i], p[i], wd, maximize)
            v[i] = alpha * v[i] + (1 - alpha) * g * g
            if centered:
                ga[i] = lerp(ga[i], g, 1 - alpha)
                avg = math.sqrt(v[i] - ga[i] * ga[i]) + eps
            else:
                avg = math.sqrt(v[i]) + eps
            if momentum > 0:
                b[i] = momentum * b[i] + g / avg
                p[i] = p[i] - lr * b[i]
            else:
                p[i] = p[i] - lr * g / avg
        out.append(list(p))
    return out


def adagrad(lr=1e-2, lr_decay=0.0, wd=0.0, init=0.0, eps=1e-10, maximize=False):
    p, s, out = list(P0), [init] * 3, []
    for t, G in enumerate(GRADS, start=1):
        clr = lr / (1 + (t - 1) * lr_decay)
        for i in range(3):
            g = effective(G[i], p[i], wd, maximize)
            s[i] += g * g
            p[i] = p[i] - clr * g / (math.sqrt(s[i]) + eps)
        out.append(list(p))
    return out


def adadelta(lr=1.0, rho=0.9, eps=1e-6, wd=0.0, maximize=False):
    p, v, u, out = list(P0), [0.0] * 3, [0.0] * 3, []
    for G in GRADS:
        for i in range(3):
            g = effective(G[i], p[i], wd, maximize)
            v[i] = rho * v[i] + (1 - rho) * g * g
            d = math.sqrt(u[i] + eps) / math.sqrt(v[i] + eps) * g
            u[i] = rho * u[i] + (1 - rho) * d * d
            p[i] = p[i] - lr * d
        out.append(list(p))
    return out


CASES = {
    "sgd lr 0.1": sgd(0.1),
    "sgd momentum 0.9 dampening 0.1 wd 0.01": sgd(0.1, momentum=0.9, dampening=0.1, wd=0.01),
    "sgd nesterov momentum 0.9 wd 0.1": sgd(0.1, momentum=0.9, wd=0.1, nesterov=True),
    "sgd maximize momentum 0.5": sgd(0.1, momentum=0.5, maximize=True),
    "adam lr 0.1": adam(lr=0.1),
    "adam amsgrad betas (0.9, 0.5) wd 0.1": adam(lr=0.1, betas=(0.9, 0.5), wd=0.1, amsgrad=True),
    "adam no amsgrad betas (0.9, 0.5) wd 0.1": adam(lr=0.1, betas=(0.9, 0.5), wd=0.1),
    "adam maximize eps 0.1": adam(lr=0.1, eps=0.1, maximize=True),
    "adamw lr 0.1 wd 0.5": adam(lr=0.1, wd=0.5, decoupled=True),
    "adam lr 0.1 wd 0.5": adam(lr=0.1, wd=0.5),
    "rmsprop default": rmsprop(),
    "rmsprop centered momentum 0.9 wd 0.1 alpha 0.9": rmsprop(lr=0.01, alpha=0.9, wd=0.1, momentum=0.9, centered=True),
    "rmsprop maximize": rmsprop(lr=0.01, maximize=True),
    "adagrad lr 0.1 lr_decay 0.5 wd 0.1 init 0.1": adagrad(lr=0.1, lr_decay=0.5, wd=0.1, init=0.1),
    "adadelta default": adadelta(),
    "adadelta lr 0.5 rho 0.5 wd 0.1 maximize": adadelta(lr=0.5, rho=0.5, wd=0.1, maximize=True),
}

for name, steps in CASES.items():
    print(f"// {name}")
    for t, p in enumerate(steps, start=1):
        print("    {" + ", ".join(f"{x:.17g}" for x in p) + "},  // step", t)

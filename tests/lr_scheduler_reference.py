#!/usr/bin/env python3
"""Expected learning rates for tests/test_lr_scheduler.cpp.

A plain-Python model of PyTorch's scheduler rules (torch/optim/lr_scheduler.py: each get_lr's
chainable form, the constructor's initial step, the "initial_lr" every scheduler of an optimizer
shares, SequentialLR's handover through the closed form, OneCycleLR's phases, ReduceLROnPlateau's
counters), written from those published formulas without torch. Run it and paste what it prints:
    python3 tests/lr_scheduler_reference.py
Python floats are IEEE doubles and math.cos is the C library's, so the values are the bits the C++
code must produce when it does the same operations in the same order.
"""
import math


class Opt:
    def __init__(self, lrs, momentum=None):
        self.groups = [{"lr": lr, "momentum": momentum} for lr in lrs]


class Sched:
    chainable = True

    def __init__(self, opt):
        self.opt = opt
        for g in opt.groups:
            g.setdefault("initial_lr", g["lr"])
        self.base = [g["initial_lr"] for g in opt.groups]
        self.last_epoch = -1
        self.initial = False
        self.initial_step()

    def initial_step(self):
        self.step_count = 0
        self.initial = True
        self.step()
        self.initial = False

    def cur(self):
        return [g["lr"] for g in self.opt.groups]

    def step(self):
        self.step_count += 1
        self.update(None)

    def update(self, epoch):
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            self.last_epoch = epoch
            lrs = self.closed() if hasattr(self, "closed") else self.get_lr()
        for g, lr in zip(self.opt.groups, lrs):
            g["lr"] = lr
        self.last_lr = self.cur()


class StepLR(Sched):
    def __init__(self, opt, step_size, gamma=0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(opt)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self.cur()
        return [lr * self.gamma for lr in self.cur()]

    def closed(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base]


class MultiStepLR(Sched):
    def __init__(self, opt, milestones, gamma=0.1):
        self.milestones, self.gamma = list(milestones), gamma
        super().__init__(opt)

    def get_lr(self):
        n = self.milestones.count(self.last_epoch)
        if n == 0:
            return self.cur()
        return [lr * self.gamma ** n for lr in self.cur()]


    def closed(self):
        passed = sum(1 for m in sorted(self.milestones) if m <= self.last_epoch)  # bisect_right
        return [b * self.gamma ** passed for b in self.base]


class ExponentialLR(Sched):
    def __init__(self, opt, gamma):
        self.gamma = gamma
        super().__init__(opt)

    def get_lr(self):
        if self.initial:
            return self.cur()
        return [lr * self.gamma for lr in self.cur()]

    def closed(self):
        return [b * self.gamma ** self.last_epoch for b in self.base]


class CosineAnnealingLR(Sched):
    def __init__(self, opt, T_max, eta_min=0.0):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(opt)

    def get_lr(self):
        e, T, m = self.last_epoch, self.T_max, self.eta_min
        if self.initial:
            return self.cur()
        if self.step_count == 1 and e > 0:
            return [m + (b - m) * (1 + math.cos(e * math.pi / T)) / 2 for b in self.base]
        if (e - 1 - T) % (2 * T) == 0:
            return [lr + (b - m) * (1 - math.cos(math.pi / T)) / 2 for lr, b in zip(self.cur(), self.base)]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - m) + m
                for lr in self.cur()]

    def closed(self):
        e, T, m = self.last_epoch, self.T_max, self.eta_min
        return [m + (b - m) * (1 + math.cos(math.pi * e / T)) / 2 for b in self.base]


class LinearLR(Sched):
    def __init__(self, opt, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        self.s, self.f, self.T = start_factor, end_factor, total_iters
        super().__init__(opt)

    def get_lr(self):
        e = self.last_epoch
        if e == 0:
            return [lr * self.s for lr in self.cur()]
        if self.initial or e > self.T:
            return self.cur()
        return [lr * (1.0 + (self.f - self.s) / (self.T * self.s + (e - 1) * (self.f - self.s))) for lr in self.cur()]

    def closed(self):
        return [b * (self.s + (self.f - self.s) * min(self.T, self.last_epoch) / self.T) for b in self.base]


class LambdaLR(Sched):
    def __init__(self, opt, fns):
        self.fns = fns
        super().__init__(opt)

    def get_lr(self):
        return [b * f(self.last_epoch) for b, f in zip(self.base, self.fns)]


class OneCycleLR(Sched):
    def __init__(self, opt, max_lr, total_steps, pct_start=0.3, anneal="cos", cycle_momentum=True,
                 base_momentum=0.85, max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False):
        self.total, self.anneal_kind, self.cycle = total_steps, anneal, cycle_momentum
        T = total_steps
        if three_phase:
            self.phases = [(float(pct_start * T) - 1, "initial_lr", "max_lr", "max_m", "base_m"),
                           (float(2 * pct_start * T) - 2, "max_lr", "initial_lr", "base_m", "max_m"),
                           (T - 1, "initial_lr", "min_lr", "max_m", "max_m")]
        else:
            self.phases = [(float(pct_start * T) - 1, "initial_lr", "max_lr", "max_m", "base_m"),
                           (T - 1, "max_lr", "min_lr", "base_m", "max_m")]
        for g in opt.groups:
            g["initial_lr"] = max_lr / div_factor
            g["max_lr"] = max_lr
            g["min_lr"] = g["initial_lr"] / final_div_factor
            if cycle_momentum:
                g["momentum"] = max_momentum
                g["max_m"], g["base_m"] = max_momentum, base_momentum
        super().__init__(opt)

    def anneal(self, start, end, pct):
        if self.anneal_kind == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total:
            raise ValueError("past total_steps")
        lrs = []
        for g in self.opt.groups:
            start = 0.0
            for i, (end, slr, elr, sm, em) in enumerate(self.phases):
                if step <= end or i == len(self.phases) - 1:
                    pct = (step - start) / (end - start)
                    lr = self.anneal(g[slr], g[elr], pct)
                    if self.cycle:
                        g["momentum"] = self.anneal(g[sm], g[em], pct)
                    break
                start = end
            lrs.append(lr)
        return lrs


class SequentialLR:
    def __init__(self, opt, scheds, milestones):
        self.opt, self.scheds, self.milestones = opt, scheds, milestones
        self.last_epoch = 0
        for g in opt.groups:
            g["lr"] = g["initial_lr"]
        for s in scheds:
            s.last_epoch -= 1
        scheds[0].initial_step()
        self.last_lr = scheds[0].last_lr

    def step(self):
        self.last_epoch += 1
        idx = sum(1 for m in self.milestones if m <= self.last_epoch)  # bisect_right
        s = self.scheds[idx]
        if idx > 0 and self.milestones[idx - 1] == self.last_epoch:
            s.update(0)
        else:
            s.step()
        self.last_lr = s.last_lr


class ChainedScheduler:
    def __init__(self, scheds):
        self.scheds, self.opt = scheds, scheds[0].opt

    def step(self):
        for s in self.scheds:
            s.step()


class ReduceLROnPlateau:
    def __init__(self, opt, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        self.opt, self.mode, self.factor, self.patience = opt, mode, factor, patience
        self.threshold, self.tmode, self.cooldown, self.eps = threshold, threshold_mode, cooldown, eps
        self.min_lrs = list(min_lr) if isinstance(min_lr, list) else [min_lr] * len(opt.groups)
        self.best = math.inf if mode == "min" else -math.inf
        self.bad = self.cooldown_counter = 0

    def better(self, a, best):
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.tmode == "rel" else a < best - self.threshold
        return a > best * (self.threshold + 1.0) if self.tmode == "rel" else a > best + self.threshold

    def step(self, metric):
        if self.better(metric, self.best):
            self.best, self.bad = metric, 0
        else:
            self.bad += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.bad = 0
        if self.bad > self.patience:
            for g, m in zip(self.opt.groups, self.min_lrs):
                new = max(g["lr"] * self.factor, m)
                if g["lr"] - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter, self.bad = self.cooldown, 0


def lrs_of(opt, sched, steps, metric=None):
    """Group lrs after construction and after each of `steps` steps: [[group0...], [group1...]]."""
    out = [[g["lr"]] for g in opt.groups]
    for _ in range(steps):
        sched.step()
        for i, g in enumerate(opt.groups):
            out[i].append(g["lr"])
    return out


def show(name, rows):
    for i, row in enumerate(rows):
        print(f"{name} group {i}: {{{', '.join(repr(v) for v in row)}}}")


def main():
    o = Opt([0.05, 0.5]); show("StepLR(3, 0.1)", lrs_of(o, StepLR(o, 3, 0.1), 9))
    o = Opt([0.1]); show("MultiStepLR({2, 5, 5, 7}, 0.5)", lrs_of(o, MultiStepLR(o, [2, 5, 5, 7], 0.5), 9))
    o = Opt([0.1]); show("ExponentialLR(0.9)", lrs_of(o, ExponentialLR(o, 0.9), 7))
    o = Opt([0.1, 0.02]); show("CosineAnnealingLR(4, 0.001)", lrs_of(o, CosineAnnealingLR(o, 4, 0.001), 12))
    o = Opt([0.1]); show("LinearLR()", lrs_of(o, LinearLR(o), 7))
    o = Opt([0.1]); show("LinearLR(0.5, 0.1, 3)", lrs_of(o, LinearLR(o, 0.5, 0.1, 3), 5))
    o = Opt([0.1, 0.2])
    show("LambdaLR(1/(e+1), 0.95^e)", lrs_of(o, LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 0.95 ** e]), 5))

    for kind in ("cos", "linear"):
        o = Opt([0.5], momentum=0.9)
        s = OneCycleLR(o, 0.1, 10, anneal=kind)
        lrs, moms = [o.groups[0]["lr"]], [o.groups[0]["momentum"]]
        for _ in range(10):
            s.step()
            lrs.append(o.groups[0]["lr"])
            moms.append(o.groups[0]["momentum"])
        show(f"OneCycleLR(0.1, 10, {kind}) lr", [lrs])
        show(f"OneCycleLR(0.1, 10, {kind}) momentum", [moms])
    o = Opt([0.5], momentum=0.9)
    s = OneCycleLR(o, 1.0, 10, pct_start=0.25, three_phase=True, cycle_momentum=False)
    show("OneCycleLR(1.0, 10, pct 0.25, three_phase)", lrs_of(o, s, 10))

    o = Opt([1.0])
    seq = SequentialLR(o, [LinearLR(o, 0.1, 1.0, 4), CosineAnnealingLR(o, 6, 0.0)], [4])
    show("SequentialLR(LinearLR(0.1, 1, 4), Cosine(6), [4])", lrs_of(o, seq, 11))
    o = Opt([1.0])
    seq = SequentialLR(o, [LinearLR(o, 0.5, 1.0, 2), ExponentialLR(o, 0.9), StepLR(o, 2, 0.5)], [3, 6])
    show("SequentialLR(LinearLR(0.5, 1, 2), Exp(0.9), Step(2, 0.5), [3, 6])", lrs_of(o, seq, 9))

    o = Opt([1.0])
    seq = SequentialLR(o, [ExponentialLR(o, 0.5), LinearLR(o, 0.25, 1.0, 3), MultiStepLR(o, [0, 2], 0.1)], [2, 5])
    show("SequentialLR(Exp(0.5), LinearLR(0.25, 1, 3), MultiStep({0, 2}, 0.1), [2, 5])", lrs_of(o, seq, 8))

    o = Opt([1.0])
    ch = ChainedScheduler([LinearLR(o, 0.5, 1.0, 4), ExponentialLR(o, 0.9)])
    show("Chained(LinearLR(0.5, 1, 4), Exp(0.9))", lrs_of(o, ch, 6))
    o = Opt([1.0])
    ch = ChainedScheduler([CosineAnnealingLR(o, 5, 0.0), ExponentialLR(o, 0.9)])
    show("Chained(Cosine(5), Exp(0.9))", lrs_of(o, ch, 6))
    o = Opt([1.0])
    ch = ChainedScheduler([LinearLR(o, 0.5, 1.0, 4), LambdaLR(o, [lambda e: 1 / (e + 1)])])
    show("Chained(LinearLR(0.5, 1, 4), Lambda(1/(e+1)))", lrs_of(o, ch, 4))

    o = Opt([1.0, 0.1])
    p = ReduceLROnPlateau(o, patience=2, cooldown=1, threshold=0.1, min_lr=[0.05, 0.0])
    metrics = [10.0, 9.5, 9.2, 9.1, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 7.0, 7.0, 7.0, 7.0]
    rows = [[], []]
    for m in metrics:
        p.step(m)
        for i, g in enumerate(o.groups):
            rows[i].append(g["lr"])
    show("Plateau(min, patience 2, cooldown 1, rel 0.1, min_lr {0.05, 0})", rows)
    o = Opt([1.0])
    p = ReduceLROnPlateau(o, mode="max", factor=0.5, patience=0, threshold=0.5, threshold_mode="abs", eps=0.2)
    metrics = [1.0, 1.4, 1.6, 2.2, 2.0, 3.0, 3.0, 3.0, 3.0]
    rows = [[]]
    for m in metrics:
        p.step(m)
        rows[0].append(o.groups[0]["lr"])
    show("Plateau(max, factor 0.5, patience 0, abs 0.5, eps 0.2)", rows)


if __name__ == "__main__":
    main()

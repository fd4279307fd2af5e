#!/usr/bin/env python3
"""The benchmark suite's workloads (W1-W6, see `fovea bench suite --help`) in PyTorch on the
CPU, for `make bench` to print beside Fovea's.

Output: one line per workload, `ID MEDIAN_SECONDS RATE` (RATE in GFLOP/s for W1, W2, W3 and
W6, steps/s for W4 and W5), the format `fovea bench suite --peer` reads. Lines starting with
`#` are comments. Exits with status 3 and one line on stderr when PyTorch is not importable.

    python3 scripts/bench_torch.py [--threads N] [W1 W2 ...]
"""
import argparse
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:
    print("bench_torch.py: PyTorch is not installed (pip install torch)", file=sys.stderr)
    sys.exit(3)

CONV = dict(n=32, c=64, hw=32, k=3)
CONV_FLOP = 2.0 * CONV["n"] * CONV["c"] * CONV["hw"] ** 2 * CONV["c"] * CONV["k"] ** 2


def median_seconds(run, warmup, reps):
    """Median wall time of `run` (which must return only once its result is complete)."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(wid, seconds, work):
    print(f"{wid} {seconds:.6f} {work / seconds:.3f}", flush=True)


def matmul(reps):
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    report("W1", median_seconds(lambda: a @ b, 2, reps), 2 * 1024**3 / 1e9)


def conv_inputs(grad):
    x = torch.randn(CONV["n"], CONV["c"], CONV["hw"], CONV["hw"], requires_grad=grad)
    w = (0.05 * torch.randn(CONV["c"], CONV["c"], CONV["k"], CONV["k"])).requires_grad_(grad)
    return x, w


def conv_forward(reps):
    x, w = conv_inputs(False)
    with torch.no_grad():
        report("W2", median_seconds(lambda: F.conv2d(x, w, padding=1), 2, reps), CONV_FLOP / 1e9)


def conv_backward(reps):
    x, w = conv_inputs(True)
    y = F.conv2d(x, w, padding=1)
    dy = torch.ones_like(y)
    step = lambda: torch.autograd.grad(y, (x, w), dy, retain_graph=True)
    report("W3", median_seconds(step, 2, reps), 2 * CONV_FLOP / 1e9)


def seed_net():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4608, 10)
    )


def small_vgg():
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
                nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(
        *block(1, 32), *block(32, 64), nn.Flatten(),
        nn.Linear(3136, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10),
    )


def train(wid, model, momentum):
    """3 warm-up steps, then 20 timed; the loss is read after the last; total / 20."""
    torch.manual_seed(0)
    model.train()
    x = torch.randn(64, 1, 28, 28)
    labels = torch.arange(64) * 7 % 10
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=momentum)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(20):
        loss = step()
    loss.item()
    per_step = (time.perf_counter() - start) / 20
    print(f"{wid} {per_step:.6f} {1 / per_step:.3f}", flush=True)


def vgg16(reps):
    plan = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers, cin, side, flop = [], 3, 224, 0.0
    for v in plan:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
            side //= 2
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
            flop += 2.0 * cin * v * 9 * (side * side)
            cin = v
    head = [(25088, 4096), (4096, 4096), (4096, 1000)]
    flop += sum(2.0 * i * o for i, o in head)
    model = nn.Sequential(
        *layers, nn.AdaptiveAvgPool2d(7), nn.Flatten(),
        nn.Linear(25088, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Dropout(), nn.Linear(4096, 1000),
    ).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        report("W6", median_seconds(lambda: model(x), 2, reps), flop / 1e9)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    p.add_argument("--reps", type=int, default=10, help="timed repetitions (W1-W3, W6)")
    p.add_argument("ids", nargs="*", default=["W1", "W2", "W3", "W4", "W5", "W6"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads")
    runs = {
        "W1": lambda: matmul(a.reps),
        "W2": lambda: conv_forward(a.reps),
        "W3": lambda: conv_backward(a.reps),
        "W4": lambda: train("W4", seed_net(), 0.0),
        "W5": lambda: train("W5", small_vgg(), 0.9),
        "W6": lambda: vgg16(max(3, a.reps // 2)),
    }
    for wid in a.ids:
        runs[wid.upper()]()


if __name__ == "__main__":
    main()

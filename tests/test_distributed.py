"""Data-parallel training (DistributedDataParallel) on CPU: two gloo processes on loopback
reach the metrics of one process, to rounding."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from qvit_lib.models import build_model
from qvit_lib.training import train

from .browser import free_port

TOLERANCE = 1e-4  # float32 gradients summed in another order, then averaged over two processes


def problem():
    g = torch.Generator().manual_seed(0)
    labels = (torch.rand(600, generator=g) > 0.5).float()
    tokens = torch.rand(600, 32, 32, generator=g) * 0.1
    tokens[:, 5, :4] += labels[:, None] * 0.3
    return (tokens[:500], labels[:500]), (tokens[500:], labels[500:])


def run(rank: int = 0, world: int = 1, port: int = 0, out: str | None = None):
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
        torch.set_num_threads(1)
    train_set, val_set = problem()
    model = build_model("classical-cmx-pe", seed=0, n_layers=2)
    result = train(model, train_set, val_set, epochs=3, batch_size=128, seed=1, progress=False)
    summary = {"history": result.history, "params": [p.detach().clone() for p in model.parameters()]}
    if world > 1:
        if rank == 0:
            torch.save(summary, out)
        dist.destroy_process_group()
    return summary


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
@pytest.mark.slow
def test_two_gloo_processes_match_one(tmp_path):
    single = run()
    out = tmp_path / "rank0.pt"
    mp.spawn(run, args=(2, free_port(), str(out)), nprocs=2, join=True)
    double = torch.load(out)
    for a, b in zip(single["history"], double["history"]):
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_auc"):
            assert a[key] == pytest.approx(b[key], abs=TOLERANCE), (a["epoch"], key)
    assert max(float((p - q).abs().max()) for p, q in zip(single["params"], double["params"])) < 1e-3

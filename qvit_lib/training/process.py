"""The training process: its place in a data-parallel group, and how it keeps freed memory."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import torch
import torch.distributed as dist

__all__ = ["distributed_rank", "init_distributed_from_env", "keep_freed_memory"]


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) of this process in an initialised torch.distributed group, else (0, 1)."""

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed_from_env() -> bool:
    """Join the process group that ``torchrun`` describes in the environment (if any).

    NCCL on GPUs, gloo on CPUs. Returns True when training runs data-parallel.
    """

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend)
    return True


def keep_freed_memory(limit_bytes: int = 32 * 2**20, keep_bytes: int = 2**30) -> bool:
    """Let glibc serve blocks up to ``limit_bytes`` from its heap and keep up to ``keep_bytes`` freed.

    A training step allocates and frees the same large temporaries every time: the fused
    engine's Fourier features alone are ~20 MB per layer at batch 512. By default glibc maps
    such blocks fresh from the kernel and unmaps them on free, so each step pays one page
    fault per 4 KiB touched (about 15 000 faults, 25 ms, per hybrid-angle step on the 2-core
    development machine; the classical model's blocks are small and unaffected). Kept in the
    heap, the memory is reused without faults. Process-wide; returns False where it does not
    apply (not glibc) and changes nothing there. 32 MiB is glibc's largest allowed threshold.
    """

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, limit_bytes)) and bool(mallopt(m_trim_threshold, keep_bytes))

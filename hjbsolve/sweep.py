"""Parameter sweeps on any :class:`concurrent.futures.Executor`: executor machinery only.

A sweep applies one *task* — a picklable top-level function of a parameter ``dict`` — to a
list of parameter dicts and returns the results **in the order of the parameters**, whatever
executor ran them and in whatever order they finished::

    from hjbsolve.sweep import sweep
    from hjbsolve.validation.tasks import expansion_errors      # the error-map task
    params = [{"model": m.replace(eps=e).to_dict(), "t": [0.0], "q": [0, 10]} for e in eps_grid]
    results = sweep(expansion_errors, params)                  # local process pool
    results = sweep(expansion_errors, params, executor=ex)     # any Executor

The tasks of the validation suite (``expansion_errors``, ``policy_values``, ``run_task``) live in
:mod:`hjbsolve.validation.tasks`; any picklable function of a dict is a task.

Tasks are pure functions of their parameters (no global state, no randomness without a
seed in the dict), so the results do not depend on the executor: a serial run, a local
process pool and a cluster give identical numbers (``tests/test_sweep.py`` checks this
bit for bit).

Scaling out with dask
---------------------
A ``dask.distributed`` client provides a standard executor, so a user with a cluster runs
the same sweep unchanged::

    from dask.distributed import Client
    client = Client("scheduler-address:8786")      # or Client(LocalCluster(...))
    results = sweep(expansion_errors, params, executor=client.get_executor())

The workers need ``hjbsolve`` importable (installed in their environment; the validation
tasks ship in it) and, for a task defined elsewhere, that task's module.

Threads
-------
The solvers' numba kernels are multi-threaded. In the default process pool every worker is
limited to ``threads_per_worker`` numba threads (default: the cores divided among the
workers) so that the workers do not oversubscribe the machine. Results do not depend on the
thread count.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterable

__all__ = ["sweep", "SerialExecutor", "default_executor"]


# ---------------------------------------------------------------------------- executors
class SerialExecutor(Executor):
    """An executor that runs each task immediately in the calling process (no parallelism).

    Useful for debugging, for tiny sweeps and as the reference of the determinism tests.
    """

    def submit(self, fn, /, *args, **kwargs):  # noqa: D401 - Executor API
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # pragma: no cover - re-raised by .result()
            fut.set_exception(exc)
        return fut


def _limit_threads(n: int) -> None:
    """Worker initializer: at most ``n`` numba threads in this process."""
    try:
        import numba

        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    except Exception:  # pragma: no cover - numba missing or already configured
        pass


def default_executor(max_workers: int | None = None, threads_per_worker: int | None = None) -> ProcessPoolExecutor:
    """A local process pool suited to the solvers.

    Parameters
    ----------
    max_workers : int, optional
        Number of worker processes (default: the number of usable cores, at most 8).
    threads_per_worker : int, optional
        numba threads per worker (default: ``cores // max_workers``, at least 1).

    Notes
    -----
    Workers are started with the ``spawn`` method: forking a process whose numba thread pool
    is already running is not safe. Each worker imports ``hjbsolve`` once (compiled kernels
    come from numba's on-disk cache).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if max_workers is None:
        max_workers = max(1, min(cores, 8))
    if threads_per_worker is None:
        threads_per_worker = max(1, cores // max_workers)
    return ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_limit_threads, initargs=(threads_per_worker,))


def sweep(task: Callable[[dict], Any], params: Iterable[dict], executor: Executor | None = None, *,
          progress: bool = False, desc: str = "sweep", max_workers: int | None = None) -> list:
    """Apply ``task`` to every parameter dict; results in the order of ``params``.

    Parameters
    ----------
    task : callable
        A picklable top-level function ``task(params: dict) -> result``. It must be a pure
        function of its argument (the results are then independent of the executor).
    params : iterable of dict
        One dict per task.
    executor : concurrent.futures.Executor, optional
        Where to run the tasks: a :class:`~concurrent.futures.ProcessPoolExecutor`, a
        ``dask.distributed`` client's ``get_executor()``, :class:`SerialExecutor`, … Default:
        :func:`default_executor` (created for this call and shut down after it).
    progress : bool
        A tqdm bar over completed tasks.
    desc : str
        Label of the progress bar.
    max_workers : int, optional
        Workers of the default executor (ignored when ``executor`` is given).

    Returns
    -------
    list
        ``[task(p) for p in params]``, computed by the executor.

    Raises
    ------
    Exception
        The first failing task's exception (in the order of ``params``), after all tasks
        have been waited for.
    """
    params = list(params)
    if not callable(task):
        raise ValueError(f"task must be callable, got {task!r}")
    for i, p in enumerate(params):
        if not isinstance(p, dict):
            raise ValueError(f"params[{i}] must be a dict, got {type(p).__name__}")
    if not params:
        return []
    own = executor is None
    if own:
        executor = default_executor(max_workers=max_workers)
    try:
        futures = [executor.submit(task, p) for p in params]
        if progress:
            from tqdm import tqdm

            for _ in tqdm(as_completed(futures), total=len(futures), desc=desc, leave=False, disable=None):
                pass
        return [f.result() for f in futures]
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)

from __future__ import annotations

from pathlib import Path

from gymnpt.core.plugins import make_plugin_manager


def test_tensorboard_logger_writes_events(tmp_path):
    from gymnpt.plugins import loggers

    pm = make_plugin_manager(autoload=False, plugins=[loggers])
    run = str(tmp_path / "run")
    pm.notify("gymnpt_run_start", run_dir=run, config={"env": "snake"})
    for step in range(1, 4):
        pm.notify(
            "gymnpt_train_step_end",
            step=step,
            metrics={"reward/mean": step * 0.5, "note": "x"},
            run_dir=run,
        )
    pm.notify("gymnpt_run_end", run_dir=run, summary={"return": 1.0})
    assert not pm.failures
    events = list(Path(run, "tensorboard").glob("events.out.tfevents.*"))
    assert events
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(Path(run, "tensorboard")))
    acc.Reload()
    assert [e.value for e in acc.Scalars("reward/mean")] == [0.5, 1.0, 1.5]


def test_observer_that_raises_is_reported_not_fatal():
    from gymnpt import hookimpl

    class Bad:
        @hookimpl
        def gymnpt_episode_end(self, record):
            raise ValueError("observer bug")

    pm = make_plugin_manager(autoload=False, plugins=[Bad()])
    pm.notify("gymnpt_episode_end", record={})
    assert "observer bug" in next(iter(pm.failures.values()))

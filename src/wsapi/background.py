"""Work that runs after the response has been sent: declare `tasks: BackgroundTasks` and `tasks.add_task(f, ...)`."""

from starlette.background import BackgroundTask, BackgroundTasks

__all__ = ["BackgroundTask", "BackgroundTasks"]

"""gunicorn settings for test_gunicorn.py: 4 sync prefork workers, the app
preloaded in the master, a worker_exit hook that dumps each worker's counters."""
import os

workers = 4
worker_class = "sync"
preload_app = True
bind = "127.0.0.1:" + os.environ["HZ_PORT"]
accesslog = None
loglevel = "warning"
graceful_timeout = 10


def worker_exit(server, worker):
    import gunicorn_app
    gunicorn_app.worker_exit()

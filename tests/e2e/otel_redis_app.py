"""An unmodified Flask service (no tracing code at all) for the OTel e2e:

    otel_redis_app.py front|back REDIS_PORT [BACK_URL]

front: GET /order/<sku> -> Redis INCR + SET, then GET BACK_URL/stock/<sku>.
back:  GET /stock/<sku> -> Redis HSET + HGET, returns the stock.
Prints "PORT <n>" once serving; exits cleanly on SIGTERM (atexit handlers,
such as a tracer provider's shutdown, run).
"""
import signal
import sys
import threading

import flask
import redis
import requests
from werkzeug.serving import make_server

role, redis_port = sys.argv[1], int(sys.argv[2])
back_url = sys.argv[3] if len(sys.argv) > 3 else None
db = redis.Redis(host="127.0.0.1", port=redis_port)
app = flask.Flask("otel-redis-" + role)


@app.route("/order/<sku>")
def order(sku):
    n = db.incr("orders:" + sku)
    db.set("order:%s:%d" % (sku, n), "placed")
    stock = requests.get("%s/stock/%s" % (back_url, sku), timeout=10).text
    return "order %d of %s, stock %s" % (n, sku, stock)


@app.route("/stock/<sku>")
def stock(sku):
    db.hset("stock", sku, 41)
    return db.hget("stock", sku).decode()


srv = make_server("127.0.0.1", 0, app, threaded=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
threading.Thread(target=srv.serve_forever, daemon=True).start()
print("PORT %d" % srv.server_port, flush=True)
stop.wait()
srv.shutdown()
sys.exit(0)

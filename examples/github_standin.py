"""A local stand-in for GitHub's contributor-statistics endpoint.

    GET /repos/<owner>/<repo>/stats/contributors

answers with the JSON shape api.github.com uses (an array of
{"author": {...user...}, "total": N, "weeks": [{"w","a","d","c"}, ...]},
ordered by ascending total), generated deterministically from owner/repo so
every run of the demo shows the same numbers. Like GitHub, the first request
for a repository answers 202 Accepted with an empty body ("statistics are being
computed") when STANDIN_COLD=1; clients retry.

The demo machine has no internet; set GITHUB_API=https://api.github.com for the
contributors service to use the real API instead. Standard library only.

    python examples/github_standin.py [--port 18090]
"""
import argparse
import hashlib
import json
import os
import random
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAMES = ["yurishkuro", "albertteoh", "pavolloffay", "jpkrohling", "objectiser",
         "black-adder", "vprithvi", "isaachier", "mh-park", "joe-elliott",
         "yoave23", "akashsuresh", "frittentheke", "rjs211", "mahadzaryab1"]
WEEK = 7 * 24 * 3600
FIRST_WEEK = 1483833600  # a Sunday, as GitHub's "w" always is


def user(login, uid):
    base = "https://api.github.com/users/" + login
    return {
        "login": login, "id": uid,
        "node_id": "MDQ6VXNlcj" + hashlib.sha1(login.encode()).hexdigest()[:6],
        "avatar_url": "https://avatars.githubusercontent.com/u/%d?v=4" % uid,
        "gravatar_id": "", "url": base, "html_url": "https://github.com/" + login,
        "followers_url": base + "/followers",
        "following_url": base + "/following{/other_user}",
        "gists_url": base + "/gists{/gist_id}",
        "starred_url": base + "/starred{/owner}{/repo}",
        "subscriptions_url": base + "/subscriptions",
        "organizations_url": base + "/orgs", "repos_url": base + "/repos",
        "events_url": base + "/events{/privacy}",
        "received_events_url": base + "/received_events",
        "type": "User", "user_view_type": "public", "site_admin": False,
    }


def contributors(owner, repo, nweeks=52):
    rnd = random.Random(hashlib.sha256(("%s/%s" % (owner, repo)).encode()).digest())
    out = []
    for i, login in enumerate(rnd.sample(NAMES, rnd.randint(6, len(NAMES)))):
        activity = rnd.random() ** 2
        weeks = []
        for k in range(nweeks):
            c = rnd.randint(0, 12) if rnd.random() < activity else 0
            weeks.append({"w": FIRST_WEEK + k * WEEK,
                          "a": c * rnd.randint(0, 120), "d": c * rnd.randint(0, 60), "c": c})
        total = sum(w["c"] for w in weeks)
        if total:
            out.append({"author": user(login, 1000 + 37 * i + len(login)), "total": total,
                        "weeks": weeks})
    out.sort(key=lambda c: c["total"])
    return out


class Handler(BaseHTTPRequestHandler):
    route = re.compile(r"^/repos/([\w.-]+)/([\w.-]+)/stats/contributors/?(\?.*)?$")
    seen = set()
    lock = threading.Lock()
    server_version = "GitHub.com-standin"
    protocol_version = "HTTP/1.1"
    # Headers and body in one segment: with keep-alive, two small writes meet
    # the client's delayed ACK (Nagle) and every response waits ~40 ms.
    wbufsize = -1
    disable_nagle_algorithm = True

    def do_GET(self):
        m = self.route.match(self.path)
        if not m:
            return self.send_json(404, {"message": "Not Found",
                                        "documentation_url": "https://docs.github.com/rest"})
        owner, repo = m.group(1), m.group(2)
        with self.lock:
            cold = os.environ.get("STANDIN_COLD") == "1" and (owner, repo) not in self.seen
            self.seen.add((owner, repo))
        if cold:
            return self.send_json(202, {})
        self.send_json(200, contributors(owner, repo))

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18090)
    a = ap.parse_args()
    ThreadingHTTPServer((a.host, a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()

"""The Python SDK's AssetCache (aixplain.utils.asset_cache), as seed/BEHAVIOUR.md describes its
file operations, standard library only, driven line by line on standard input by the fault suite.

The real SDK locks with filelock.FileLock: os.open(<name>.lock, O_RDWR | O_CREAT | O_TRUNC), then
fcntl.flock(LOCK_EX | LOCK_NB), polling every 50 ms until it succeeds; release is LOCK_UN + close.
That is emulated below; nothing else is added (no re-read before a write, no inode check).

    python3 seed_asset_cache.py DIR NAME
    open                      -> construct (load, or invalidate + save)      prints "opened <n>"
    adds PREFIX FROM COUNT MS -> COUNT adds, MS ms apart          prints "ack <id>" each, then "done adds PREFIX FROM"
    add_list PREFIX COUNT     -> replaces the content with COUNT assets  prints "ack <id>" each, then "done add_list PREFIX"
    invalidate                -> deletes the JSON file and the lock file     prints "done invalidate"
    quit
"""
import fcntl
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field

CACHE_DURATION = 86400
POLL_INTERVAL = 0.05


@dataclass
class Store:
    data: dict = field(default_factory=dict)
    expiry: float = 0.0


class FileLock:
    """filelock.UnixFileLock with timeout=-1 (wait forever)."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                time.sleep(POLL_INTERVAL)
                continue
            self.fd = fd
            return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None


class AssetCache:
    def __init__(self, directory, name):
        self.directory = directory
        self.cache_file = os.path.join(directory, name + ".json")
        self.lock_file = os.path.join(directory, name + ".lock")
        self.store = Store(data={}, expiry=self.compute_expiry())
        self.load()
        if not os.path.exists(self.cache_file):
            self.save()

    def compute_expiry(self):
        try:
            expiry = int(os.getenv("CACHE_EXPIRY_TIME", CACHE_DURATION))
        except Exception:
            os.environ.pop("CACHE_EXPIRY_TIME", None)
            expiry = CACHE_DURATION
        return time.time() + int(expiry)

    def invalidate(self):
        self.store = Store(data={}, expiry=self.compute_expiry())
        if os.path.exists(self.cache_file):
            os.remove(self.cache_file)
        if os.path.exists(self.lock_file):
            os.remove(self.lock_file)

    def load(self):
        if not os.path.exists(self.cache_file):
            self.invalidate()
            return
        with FileLock(self.lock_file):
            try:
                with open(self.cache_file, "r") as f:
                    cache_data = json.load(f)
                expiry = cache_data["expiry"]
                raw = cache_data["data"]
                self.store = Store(data={k: dict(v) for k, v in raw.items()}, expiry=expiry)
                if self.store.expiry < time.time():
                    self.invalidate()
            except Exception as e:
                logging.warning("failed to load the cache: %s", e)
                self.invalidate()

    def save(self):
        os.makedirs(self.directory, exist_ok=True)
        with FileLock(self.lock_file):
            try:
                serializable = {"expiry": self.store.expiry, "data": dict(self.store.data)}
                with open(self.cache_file, "w") as f:
                    json.dump(serializable, f, indent=4)
            except Exception as e:
                logging.error("failed to save the cache: %s", e)

    def add(self, asset):
        self.store.data[asset["id"]] = asset
        self.save()

    def add_list(self, assets):
        self.store.data = {a["id"]: a for a in assets}
        self.save()


def asset(asset_id, sequence):
    prefix = asset_id[: asset_id.rfind("-")]
    return {"id": asset_id, "writer": prefix, "sequence": sequence, "payload": "x" * 120}


def main():
    directory, name = sys.argv[1], sys.argv[2]
    cache = None
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        command = words[0]
        if command == "open":
            cache = AssetCache(directory, name)
            print("opened", len(cache.store.data), flush=True)
        elif command == "adds":
            prefix, start, count, pause = words[1], int(words[2]), int(words[3]), int(words[4]) / 1000
            for i in range(start, start + count):
                asset_id = "%s-%d" % (prefix, i)
                cache.add(asset(asset_id, i))
                print("ack", asset_id, flush=True)
                time.sleep(pause)
            print("done adds", prefix, start, flush=True)
        elif command == "add_list":
            prefix, count = words[1], int(words[2])
            assets = [asset("%s-%d" % (prefix, i), i) for i in range(count)]
            cache.add_list(assets)
            for a in assets:
                print("ack", a["id"], flush=True)
            print("done add_list", prefix, flush=True)
        elif command == "invalidate":
            cache.invalidate()
            print("done invalidate", flush=True)
        elif command == "quit":
            return
        else:
            raise SystemExit("unknown command: " + line)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""APScheduler 3 (Debian's python3-apscheduler) doing what bench/schedule_load.cpp does.

  apscheduler_peer.py lateness [JOBS=1000] [SECONDS=20] [INTERVAL_MS=1000]
  apscheduler_peer.py next_fire [SECONDS=3]
  apscheduler_peer.py memory [SCHEDULES=100000]

Prints the same key=value lines. Lateness: an AsyncIOScheduler with JOBS interval jobs whose
start dates are spread over one interval; each run records how late it started against its
nominal fire time (misfire_grace_time is raised to an hour so no run is dropped, as the
afterwork side drops none). Memory: SCHEDULES jobs on a started AsyncIOScheduler's memory job
store, the same mix of cron triggers in five zones and intervals.
"""

import asyncio
import datetime
import sys
import time

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

EXPRESSIONS = ["0 9 * * *", "0 * * * *", "0 8 * * mon", "*/15 * * * *",
               "*/5 9-17 * * mon-fri", "30 2 * * *"]
ZONES = ["UTC", "Asia/Kolkata", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]


def arg(index, default):
    return int(sys.argv[index]) if len(sys.argv) > index else default


def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def percentile(values, fraction):
    if not values:
        return 0.0
    return values[int(fraction * (len(values) - 1))]


def cron_triggers():
    return [CronTrigger.from_crontab(e, timezone=z) for e in EXPRESSIONS for z in ZONES]


async def lateness(jobs, seconds, interval_ms):
    samples = []
    interval = datetime.timedelta(milliseconds=interval_ms)
    scheduler = AsyncIOScheduler(timezone="UTC")
    begin = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)

    async def record(start):  # a coroutine, as the afterwork job is: it runs on the loop
        now = datetime.datetime.now(datetime.timezone.utc)
        samples.append(((now - start) % interval).total_seconds() * 1000)

    for i in range(jobs):
        start = begin + interval * i / jobs
        scheduler.add_job(record, IntervalTrigger(seconds=interval_ms / 1000, start_date=start),
                          args=[start], id=f"job-{i}", misfire_grace_time=3600)
    scheduler.start()
    await asyncio.sleep((begin - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
                        + seconds)
    scheduler.shutdown(wait=False)
    samples.sort()
    print(f"runs={len(samples)}")
    print(f"expected_runs={jobs * seconds * 1000 // interval_ms}")
    for name, fraction in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        print(f"{name}_ms={percentile(samples, fraction):.3f}")
    print(f"max_ms={samples[-1] if samples else 0:.3f}")


def next_fire(seconds):
    triggers = cron_triggers()
    begin = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    cursors = [begin] * len(triggers)
    computed = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(10):
            for i, trigger in enumerate(triggers):
                # As the scheduler asks: the next time strictly after the previous one.
                nxt = trigger.get_next_fire_time(cursors[i], cursors[i] + datetime.timedelta(seconds=1))
                cursors[i] = nxt or begin
                computed += 1
    print(f"next_fire_per_s={computed / (time.perf_counter() - started):.0f}")


async def memory(schedules):
    triggers = cron_triggers() + [IntervalTrigger(minutes=5), IntervalTrigger(hours=1)]
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.start()
    before = rss_kib()
    started = time.perf_counter()
    first_tenth = 0.0

    def nothing():
        pass

    for i in range(schedules):
        scheduler.add_job(nothing, triggers[i % len(triggers)], id=f"schedule-{i}")
        if i + 1 == schedules // 10:
            first_tenth = time.perf_counter() - started
    all_s = time.perf_counter() - started
    after = rss_kib()
    print(f"schedules={len(scheduler.get_jobs())}")
    print(f"rss_before_kib={before}\nrss_after_kib={after}")
    print(f"rss_mib={(after - before) / 1024:.1f}")
    print(f"bytes_per_schedule={(after - before) * 1024 / schedules:.0f}")
    print(f"add_us_first_tenth={first_tenth * 1e6 / (schedules // 10):.2f}")
    print(f"add_us_last_nine_tenths={(all_s - first_tenth) * 1e6 / (schedules - schedules // 10):.2f}")
    scheduler.shutdown(wait=False)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "lateness":
        asyncio.run(lateness(arg(2, 1000), arg(3, 20), arg(4, 1000)))
    elif mode == "next_fire":
        next_fire(arg(2, 3))
    elif mode == "memory":
        asyncio.run(memory(arg(2, 100_000)))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

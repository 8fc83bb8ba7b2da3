// SPDX-License-Identifier: MIT
// bench/schedule, the scheduler under load (issue 4):
//
//   schedule_load lateness [JOBS=1000] [SECONDS=20] [INTERVAL_MS=1000]
//       JOBS interval jobs on one loop, their start times spread evenly over one interval;
//       each run records how late it started against its nominal fire time. Prints p50, p90,
//       p99 and max lateness in ms, and the number of runs (expected: JOBS * SECONDS / interval).
//   schedule_load next_fire [SECONDS=3]
//       next-fire computations per second over the same expressions and zones the APScheduler
//       peer uses (bench/schedule/apscheduler_peer.py), each walked forward from 2026-01-01.
//   schedule_load memory [SCHEDULES=100000]
//       adds SCHEDULES jobs (a mix of cron expressions in several zones and intervals) to a
//       started scheduler and prints the resident memory they take (VmRSS after - before) per
//       schedule and in all, and the time to add them at 10% and at 100% (O(log n) each).
//
// Output is one `key=value` line per figure, for bench/schedule/run.sh.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <afterwork/runtime/loop.hpp>
#include <afterwork/schedule/scheduler.hpp>
#include <afterwork/schedule/time_zone.hpp>

namespace {

using namespace std::chrono_literals;
using afterwork::CronTrigger;
using afterwork::IntervalTrigger;
using afterwork::Scheduler;
using SystemClock = std::chrono::system_clock;

long resident_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return -1;
}

struct Lateness {
    std::mutex mutex;
    std::vector<double> samples_ms;
};

afterwork::Task<void> record_lateness(std::shared_ptr<Lateness> lateness,
                                      SystemClock::time_point start,
                                      SystemClock::duration interval) {
    const auto now = SystemClock::now();
    // The nominal fire time of this run: the last start + k * interval at or before now.
    const auto late = (now - start) % interval;
    std::lock_guard lock(lateness->mutex);
    lateness->samples_ms.push_back(std::chrono::duration<double, std::milli>(late).count());
    co_return;
}

double percentile(std::vector<double>& sorted, double fraction) {
    if (sorted.empty()) return 0;
    auto index = static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1));
    return sorted[index];
}

int lateness(int jobs, int seconds, int interval_ms) {
    afterwork::Loop loop("scheduler");
    loop.start();
    Scheduler scheduler;
    auto samples = std::make_shared<Lateness>();
    samples->samples_ms.reserve(static_cast<std::size_t>(jobs) * seconds * 1000 / interval_ms +
                                1024);
    const auto interval = std::chrono::milliseconds(interval_ms);
    const auto begin = SystemClock::now() + 1s;
    for (int i = 0; i < jobs; ++i) {
        const auto start = begin + interval * i / jobs;
        scheduler.add(
            "job-" + std::to_string(i),
            IntervalTrigger(interval, start),
            [samples, start, interval] { return record_lateness(samples, start, interval); });
    }
    scheduler.start(loop.executor());
    std::this_thread::sleep_until(begin + std::chrono::seconds(seconds));
    scheduler.request_stop();
    scheduler.wait_stopped(10s);
    std::vector<double> sorted;
    {
        std::lock_guard lock(samples->mutex);
        sorted = samples->samples_ms;
    }
    std::sort(sorted.begin(), sorted.end());
    std::printf("runs=%zu\nexpected_runs=%lld\n",
                sorted.size(),
                static_cast<long long>(jobs) * seconds * 1000 / interval_ms);
    std::printf("p50_ms=%.3f\np90_ms=%.3f\np99_ms=%.3f\nmax_ms=%.3f\n",
                percentile(sorted, 0.50),
                percentile(sorted, 0.90),
                percentile(sorted, 0.99),
                sorted.empty() ? 0.0 : sorted.back());
    loop.stop();
    loop.join();
    return 0;
}

afterwork::Task<void> nothing() {
    co_return;
}

// The expressions and zones of the APScheduler peer (5-field crontab forms it accepts); the
// zone objects are shared by the triggers of a zone, as a program's would be.
std::vector<afterwork::Trigger> cron_triggers() {
    const char* expressions[] = {"0 9 * * *",
                                 "0 * * * *",
                                 "0 8 * * mon",
                                 "*/15 * * * *",
                                 "*/5 9-17 * * mon-fri",
                                 "30 2 * * *"};
    const char* zones[] = {
        "UTC", "Asia/Kolkata", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"};
    std::vector<afterwork::TimeZone> located;
    for (const char* zone : zones) located.push_back(afterwork::TimeZone::locate(zone));
    std::vector<afterwork::Trigger> triggers;
    for (const char* expression : expressions) {
        for (const auto& zone : located) {
            triggers.emplace_back(CronTrigger(afterwork::CronExpression::parse(expression), zone));
        }
    }
    return triggers;
}

int next_fire(int seconds) {
    const auto triggers = cron_triggers();
    const auto begin = afterwork::parse_iso8601("2026-01-01T00:00:00Z");
    std::vector<SystemClock::time_point> cursors(triggers.size(), begin);
    std::uint64_t computed = 0;
    const auto started = std::chrono::steady_clock::now();
    const auto deadline = started + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
        for (int round = 0; round < 100; ++round) {
            for (std::size_t i = 0; i < triggers.size(); ++i) {
                auto next = triggers[i].next_after(cursors[i]);
                cursors[i] = next ? *next : begin;
                ++computed;
            }
        }
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("next_fire_per_s=%.0f\n", static_cast<double>(computed) / elapsed);
    return 0;
}

int memory(int schedules) {
    afterwork::Loop loop("scheduler");
    loop.start();
    std::vector<afterwork::Trigger> triggers = cron_triggers();
    triggers.emplace_back(IntervalTrigger(5min));
    triggers.emplace_back(IntervalTrigger(1h));

    Scheduler scheduler;
    scheduler.start(loop.executor());
    const long before = resident_kib();
    const auto started = std::chrono::steady_clock::now();
    double first_tenth_s = 0;
    for (int i = 0; i < schedules; ++i) {
        scheduler.add(fmt::format("schedule-{}", i),
                      triggers[static_cast<std::size_t>(i) % triggers.size()],
                      [] { return nothing(); });
        if (i + 1 == schedules / 10) {
            first_tenth_s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        }
    }
    const double all_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const long after = resident_kib();
    const auto listed = scheduler.schedules().size();
    std::printf("schedules=%zu\nrss_before_kib=%ld\nrss_after_kib=%ld\n", listed, before, after);
    std::printf("rss_mib=%.1f\nbytes_per_schedule=%.0f\n",
                (after - before) / 1024.0,
                (after - before) * 1024.0 / schedules);
    std::printf("add_us_first_tenth=%.2f\nadd_us_last_nine_tenths=%.2f\n",
                first_tenth_s * 1e6 / (schedules / 10),
                (all_s - first_tenth_s) * 1e6 / (schedules - schedules / 10));
    scheduler.request_stop();
    scheduler.wait_stopped(10s);
    loop.stop();
    loop.join();
    return 0;
}

int argument(int argc, char** argv, int index, int fallback) {
    return argc > index ? std::atoi(argv[index]) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "lateness") {
        return lateness(argument(argc, argv, 2, 1000),
                        argument(argc, argv, 3, 20),
                        argument(argc, argv, 4, 1000));
    }
    if (mode == "memory") return memory(argument(argc, argv, 2, 100'000));
    if (mode == "next_fire") return next_fire(argument(argc, argv, 2, 3));
    std::fprintf(stderr,
                 "usage: schedule_load lateness [JOBS SECONDS INTERVAL_MS] | next_fire [SECONDS] "
                 "| memory [SCHEDULES]\n");
    return 2;
}

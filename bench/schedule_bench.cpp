// SPDX-License-Identifier: MIT
// bench/schedule: how many next-fire computations per second, over a mix of cron expressions
// from the everyday (`0 9 * * *`) to the awkward (`0 0 29 2 *`, lists, L, seconds), in UTC and
// in zones with daylight saving; plus parsing and interval triggers for scale.
//
//   build-release/bin/schedule_bench --benchmark_counters_tabular=true
//
// items_per_second is next_after calls per second. Each benchmark walks fire times forward
// from many start instants spread over 2026-2030, so the search sees month and year ends,
// leap days and DST changes, not one warm path.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <afterwork/schedule/cron_expression.hpp>
#include <afterwork/schedule/time_zone.hpp>
#include <afterwork/schedule/trigger.hpp>

namespace {

using afterwork::CronExpression;
using afterwork::TimeZone;
using WallClock = std::chrono::system_clock;

const std::vector<std::string> kExpressions = {
    "0 9 * * *",             // daily digest
    "0 * * * *",             // hourly clean-up
    "0 8 * * MON",           // weekly report
    "*/15 * * * *",          // every 15 minutes
    "*/5 9-17 * * MON-FRI",  // office hours
    "30 2 * * *",            // inside the DST gap/repeat
    "0 0 L * *",             // last day of the month
    "0 0 29 2 *",            // leap day: years apart
    "0 0 1,15 * MON",        // day-of-month OR day-of-week
    "0 0 */2 * FRI",         // AND: odd days that are Fridays
    "5,10,40-45 3,7,11-13 * JAN,JUN-AUG *",
    "*/10 * * * * *",    // seconds
    "0 30 9 1-7 * MON",  // seconds field, first Monday-ish
    "@monthly",
    "59 23 31 12 *",  // once a year
    "0 12 13 * FRI",
};

std::vector<CronExpression> parsed() {
    std::vector<CronExpression> out;
    for (const auto& text : kExpressions) out.push_back(CronExpression::parse(text));
    return out;
}

// Start instants spread over 2026-2030, a fixed pseudo-random sequence.
std::vector<WallClock::time_point> starts() {
    std::vector<WallClock::time_point> out;
    std::uint64_t x = 88172645463325252ULL;
    const std::int64_t begin = 1767225600;  // 2026-01-01T00:00:00Z
    const std::int64_t span = 5 * 365 * 86400;
    for (int i = 0; i < 1024; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.emplace_back(std::chrono::seconds(begin + static_cast<std::int64_t>(x % span)));
    }
    return out;
}

void next_fire(benchmark::State& state, const std::vector<TimeZone>& zones) {
    const auto expressions = parsed();
    const auto from = starts();
    std::size_t i = 0;
    std::int64_t fires = 0;
    for (auto _ : state) {
        const auto& e = expressions[i % expressions.size()];
        const auto& zone = zones[(i / expressions.size()) % zones.size()];
        auto t = from[i % from.size()];
        // Walk a few fire times forward from each start: how a scheduler calls it.
        for (int k = 0; k < 4; ++k) {
            auto next = e.next_after(t, zone);
            benchmark::DoNotOptimize(next);
            t = *next;
        }
        fires += 4;
        ++i;
    }
    state.SetItemsProcessed(fires);
}

void BM_NextFireUtc(benchmark::State& state) { next_fire(state, {TimeZone()}); }
BENCHMARK(BM_NextFireUtc);

void BM_NextFireZones(benchmark::State& state) {
    next_fire(state,
              {TimeZone::locate("America/New_York"),
               TimeZone::locate("Europe/Berlin"),
               TimeZone::locate("Asia/Kolkata"),
               TimeZone::locate("Australia/Lord_Howe")});
}
BENCHMARK(BM_NextFireZones);

void BM_NextFireMixed(benchmark::State& state) {
    next_fire(state,
              {TimeZone(),
               TimeZone::locate("Asia/Kolkata"),
               TimeZone::locate("America/New_York"),
               TimeZone()});
}
BENCHMARK(BM_NextFireMixed);

void BM_Parse(benchmark::State& state) {
    std::size_t i = 0;
    for (auto _ : state) {
        auto e = CronExpression::try_parse(kExpressions[i++ % kExpressions.size()]);
        benchmark::DoNotOptimize(e);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_Parse);

void BM_IntervalNext(benchmark::State& state) {
    using namespace std::chrono_literals;
    const afterwork::IntervalTrigger trigger(5min,
                                             WallClock::time_point(std::chrono::seconds(1767225600)));
    const auto from = starts();
    std::size_t i = 0;
    for (auto _ : state) {
        auto next = trigger.next_after(from[i++ % from.size()]);
        benchmark::DoNotOptimize(next);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_IntervalNext);

}  // namespace

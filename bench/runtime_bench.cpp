// SPDX-License-Identifier: MIT
// bench/runtime (issue 3): the runtime's basic costs, measured as the asyncio peer
// (../shared/peers/asyncio/bench.py) measures them, so bench/runtime/run.sh can put the two
// side by side:
//
//   spawn_complete_*      spawn N no-op tasks on one loop and wait for all   (tasks_per_s)
//   to_thread_round_trip  a coroutine awaiting to_thread(pool, f) in a loop  (median_us)
//   run_on_from_thread    run_on(loop, noop()).get() from a plain thread     (median_us)
//   run_on_loop_to_loop   a coroutine on loop A awaiting run_on(B, ...).wait (median_us)
//   idle_task_memory_*    heap bytes per suspended task (mallinfo2)        (bytes_per_task)
//
// "One core" is an io_context with concurrency hint 1 (what a Loop runs) driven by the
// benchmark thread itself: no hand-off, as asyncio's single-threaded loop. Latencies are
// sampled per round trip and reported as medians, as the peer does (Google Benchmark's
// time column is a mean). Coroutines here take references to the benchmark's locals: each is
// awaited to its end (`get()`) before those locals go away.

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <afterwork/runtime/blocking_pool.hpp>
#include <afterwork/runtime/event.hpp>
#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/sleep.hpp>
#include <afterwork/runtime/task_group.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using afterwork::Task;
using afterwork::TaskHandle;
using afterwork::TaskState;

constexpr std::size_t kSpawnTasks = 200'000;  // the peer's default --n
constexpr std::size_t kIdleTasks = 200'000;   // the peer measures idle memory with --n too

Task<void> noop() { co_return; }
asio::awaitable<void> asio_noop() { co_return; }

// ---- latency samples --------------------------------------------------------------------

struct Samples {
    explicit Samples(const benchmark::State& state) {
        nanoseconds.reserve(static_cast<std::size_t>(state.max_iterations));
    }
    void add(SteadyClock::duration d) {
        nanoseconds.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
    }
    // Sets median_us and p99_us; quantiles are nearest-rank over this run's samples.
    void report(benchmark::State& state) {
        if (nanoseconds.empty()) return;
        auto quantile = [&](double q) {
            auto index = static_cast<std::size_t>(q * static_cast<double>(nanoseconds.size() - 1));
            std::nth_element(nanoseconds.begin(), nanoseconds.begin() + index, nanoseconds.end());
            return static_cast<double>(nanoseconds[index]) / 1e3;
        };
        state.counters["median_us"] = quantile(0.5);
        state.counters["p99_us"] = quantile(0.99);
    }
    std::vector<std::int64_t> nanoseconds;
};

// ---- 1. spawn and complete on one core --------------------------------------------------

// asyncio's `[create_task(noop()) for _ in range(n)]` then `gather(*tasks)`.
Task<void> spawn_and_wait_all(std::size_t n) {
    afterwork::Executor executor = co_await afterwork::current_executor();
    std::vector<TaskHandle<void>> handles;
    handles.reserve(n);
    for (std::size_t i = 0; i < n; ++i) handles.push_back(afterwork::spawn(executor, noop()));
    for (const auto& handle : handles) co_await handle.wait();
}

void report_rate(benchmark::State& state, std::size_t per_iteration, SteadyClock::duration elapsed) {
    const auto tasks = static_cast<double>(state.iterations()) * static_cast<double>(per_iteration);
    state.SetItemsProcessed(static_cast<std::int64_t>(tasks));
    state.counters["tasks_per_s"] = tasks / std::chrono::duration<double>(elapsed).count();
}

// TaskHandle: the driver coroutine spawns N tasks, keeps the handles and awaits each.
void spawn_complete_handles(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    asio::io_context context(1);
    SteadyClock::duration elapsed{};
    for (auto _ : state) {
        const auto start = SteadyClock::now();
        TaskHandle<void> driver = afterwork::spawn(context.get_executor(), spawn_and_wait_all(n));
        context.run();
        context.restart();
        driver.get();
        elapsed += SteadyClock::now() - start;
    }
    report_rate(state, n, elapsed);
}

// The same on an afterwork::Loop (its own thread; this thread only waits for the driver).
void spawn_complete_loop(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    afterwork::Loop loop("bench");
    loop.start();
    SteadyClock::duration elapsed{};
    for (auto _ : state) {
        const auto start = SteadyClock::now();
        afterwork::run_on(loop, spawn_and_wait_all(n)).get();
        elapsed += SteadyClock::now() - start;
    }
    loop.stop();
    loop.join();
    report_rate(state, n, elapsed);
}

// TaskGroup: N tracked spawns, then the loop runs until the group is empty.
void spawn_complete_task_group(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    asio::io_context context(1);
    afterwork::TaskGroup group("bench");
    SteadyClock::duration elapsed{};
    for (auto _ : state) {
        const auto start = SteadyClock::now();
        for (std::size_t i = 0; i < n; ++i) group.spawn(context.get_executor(), noop());
        context.run();
        context.restart();
        elapsed += SteadyClock::now() - start;
        if (group.size() != 0) {
            state.SkipWithError("task group not empty after the loop ran out of work");
            break;
        }
    }
    report_rate(state, n, elapsed);
}

// Asio's floor under both: a bare co_spawn with a counting completion handler (no cell, no
// handle, no tracking). Not an API to use; it shows what the runtime adds.
void spawn_complete_bare_co_spawn(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    asio::io_context context(1);
    std::size_t ended = 0;
    SteadyClock::duration elapsed{};
    for (auto _ : state) {
        const auto start = SteadyClock::now();
        for (std::size_t i = 0; i < n; ++i) {
            asio::co_spawn(context, asio_noop(), [&ended](const std::exception_ptr&) { ++ended; });
        }
        context.run();
        context.restart();
        elapsed += SteadyClock::now() - start;
    }
    if (ended != n * static_cast<std::size_t>(state.iterations())) {
        state.SkipWithError("not every co_spawn completed");
    }
    report_rate(state, n, elapsed);
}

// ---- 2. to_thread round trip ------------------------------------------------------------

Task<void> to_thread_rounds(benchmark::State& state,
                            afterwork::BlockingPool& pool,
                            Samples& samples) {
    auto zero = [] { return 0; };  // named: no lambda temporaries in co_await (g++ 12)
    for (auto _ : state) {
        const auto start = SteadyClock::now();
        int value = co_await afterwork::to_thread(pool, zero);
        samples.add(SteadyClock::now() - start);
        benchmark::DoNotOptimize(value);
    }
}

// asyncio's `await asyncio.to_thread(int)`, on a pool of BlockingPoolOptions' defaults (one
// thread is enough: each call waits for the previous one).
void to_thread_round_trip(benchmark::State& state) {
    afterwork::BlockingPool pool({.name = "bench"});
    asio::io_context context(1);
    Samples samples(state);
    TaskHandle<void> driver =
        afterwork::spawn(context.get_executor(), to_thread_rounds(state, pool, samples));
    context.run();
    driver.get();
    samples.report(state);
}

// ---- 3. run_on round trips --------------------------------------------------------------

// asyncio's `run_coroutine_threadsafe(noop(), loop).result()` from a plain thread.
void run_on_from_thread(benchmark::State& state) {
    afterwork::Loop loop("bench");
    loop.start();
    Samples samples(state);
    for (auto _ : state) {
        const auto start = SteadyClock::now();
        afterwork::run_on(loop, noop()).get();
        samples.add(SteadyClock::now() - start);
    }
    loop.stop();
    loop.join();
    samples.report(state);
}

Task<void> run_on_rounds(benchmark::State& state, afterwork::Loop& target, Samples& samples) {
    for (auto _ : state) {
        const auto start = SteadyClock::now();
        TaskHandle<void> handle = afterwork::run_on(target, noop());
        co_await handle.wait();
        samples.add(SteadyClock::now() - start);
    }
}

// A coroutine on loop A (this thread's io_context) awaiting a no-op submitted to loop B.
void run_on_loop_to_loop(benchmark::State& state) {
    afterwork::Loop target("bench-b");
    target.start();
    asio::io_context context(1);
    Samples samples(state);
    TaskHandle<void> driver =
        afterwork::spawn(context.get_executor(), run_on_rounds(state, target, samples));
    context.run();
    driver.get();
    target.stop();
    target.join();
    samples.report(state);
}

// ---- 4. memory per idle suspended task --------------------------------------------------

// asyncio's `await event.wait()`: one afterwork::Event, many waiters, released by `set()`.
Task<void> wait_event(afterwork::Event& event) { co_await event.wait(); }

// The same in plain Asio, for its floor: one timer that never expires, many waiters, all
// resumed by `cancel()` (its operation_aborted is the "set" signal).
asio::awaitable<void> asio_wait_event(asio::steady_timer& event) {
    boost::system::error_code ec;
    co_await event.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

Task<void> sleep_a_day() { co_await afterwork::sleep_for(24h); }

Task<void> wait_for_task(TaskHandle<void> other) { co_await other.wait(); }

enum class Idle {
    event,          // awaiting a shared afterwork::Event; released by setting it
    sleep,          // each in sleep_for(24h); released by cancelling every handle
    wait_handle,    // each awaiting another task's handle; released by cancelling that task
    bare_co_spawn,  // as `event`, but a bare co_spawn without handle or cell: Asio's floor
};

// Bytes the process has allocated and not freed: small chunks (uordblks) plus large ones
// malloc served with mmap (hblkhd), whose threshold moves with the allocation history.
std::size_t heap_in_use() {
    const auto info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

// Heap growth per suspended task: its TaskHandle (8 bytes in the caller's vector, as the
// peer counts its list of tasks) + the task cell + the coroutine frames + the pending wait.
// Then releases them all, checks that every task ended as expected and that the heap is back
// where it was once the loop is gone (residual_bytes; ~0 means nothing leaked).
void idle_task_memory(benchmark::State& state, Idle idle) {
    const auto n = static_cast<std::size_t>(state.range(0));
    double bytes_per_task = 0;
    double residual_bytes = 0;
    for (auto _ : state) {
        const std::size_t base = heap_in_use();
        {
            asio::io_context context(1);
            const afterwork::Executor executor = context.get_executor();
            afterwork::Event event;
            asio::steady_timer asio_event(context, asio::steady_timer::time_point::max());
            TaskHandle<void> gate = afterwork::spawn(executor, sleep_a_day());
            // Warm up what a loop creates once (timer queue, services) so it is not counted.
            static_cast<void>(afterwork::spawn(executor, noop()));  // ends at once
            context.poll();

            std::vector<TaskHandle<void>> handles;
            std::size_t ended = 0;  // bare_co_spawn only
            const std::size_t before = heap_in_use();
            if (idle != Idle::bare_co_spawn) handles.reserve(n);
            for (std::size_t i = 0; i < n; ++i) {
                switch (idle) {
                    case Idle::event:
                        handles.push_back(afterwork::spawn(executor, wait_event(event)));
                        break;
                    case Idle::sleep:
                        handles.push_back(afterwork::spawn(executor, sleep_a_day()));
                        break;
                    case Idle::wait_handle:
                        handles.push_back(afterwork::spawn(executor, wait_for_task(gate)));
                        break;
                    case Idle::bare_co_spawn:
                        asio::co_spawn(executor,
                                       asio_wait_event(asio_event),
                                       [&ended](const std::exception_ptr&) { ++ended; });
                        break;
                }
            }
            context.poll();  // every task runs to its first suspension point and stays there
            const std::size_t suspended = heap_in_use();
            if (ended != 0 || !std::all_of(handles.begin(), handles.end(), [](const auto& h) {
                    return h.state() == TaskState::running;
                })) {
                state.SkipWithError("not every task was suspended");
                break;
            }
            bytes_per_task = static_cast<double>(suspended - before) / static_cast<double>(n);

            const auto expected = idle == Idle::event ? TaskState::succeeded : TaskState::cancelled;
            switch (idle) {
                case Idle::event: event.set(); break;
                case Idle::bare_co_spawn: asio_event.cancel(); break;
                case Idle::sleep:
                    for (const auto& handle : handles) handle.cancel();
                    break;
                case Idle::wait_handle: break;  // cancelling the gate releases its waiters
            }
            gate.cancel();
            context.run();  // returns once every task has ended: nothing else keeps it busy
            if (!gate.done() || (idle == Idle::bare_co_spawn && ended != n) ||
                !std::all_of(handles.begin(), handles.end(), [&](const auto& h) {
                    return h.state() == expected;
                })) {
                state.SkipWithError("not every task ended as expected after the release");
                break;
            }
        }
        residual_bytes = static_cast<double>(heap_in_use()) - static_cast<double>(base);
    }
    state.counters["bytes_per_task"] = bytes_per_task;
    state.counters["residual_bytes"] = residual_bytes;
}

}  // namespace

// 200,000 a batch as the peer; 1,000 a batch keeps every frame in cache (malloc reuses them).
BENCHMARK(spawn_complete_handles)
    ->Arg(kSpawnTasks)
    ->Arg(1'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(spawn_complete_task_group)
    ->Arg(kSpawnTasks)
    ->Arg(1'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(spawn_complete_loop)->Arg(kSpawnTasks)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(spawn_complete_bare_co_spawn)
    ->Arg(kSpawnTasks)
    ->Arg(1'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(to_thread_round_trip)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(run_on_from_thread)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(run_on_loop_to_loop)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_CAPTURE(idle_task_memory, event, Idle::event)
    ->Arg(kIdleTasks)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(idle_task_memory, sleep, Idle::sleep)
    ->Arg(kIdleTasks)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(idle_task_memory, wait_handle, Idle::wait_handle)
    ->Arg(kIdleTasks)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(idle_task_memory, bare_co_spawn, Idle::bare_co_spawn)
    ->Arg(kIdleTasks)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

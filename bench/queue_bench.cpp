// SPDX-License-Identifier: MIT
// bench/queue (issue 5): the durable queue's throughput on the memory and SQLite stores.
//
//   queue_bench STORE [JOBS=100000] [CONCURRENCY=50] [LOOPS=1]
//       STORE: memory | sqlite (WAL, synchronous=NORMAL: a committed job survives the process
//       being killed; a power loss may roll back the last commits) | sqlite-full
//       (synchronous=FULL: every commit survives power loss).
//
// Figures, one `key=value` line each (bench/queue/run.sh collects them):
//   enqueue_one_per_s      Queue::enqueue one job at a time (each its own transaction),
//                          for min(JOBS, 20000) jobs
//   enqueue_batch_per_s    Queue::enqueue_many in batches of 1,000, JOBS jobs
//   process_per_s          one Worker (CONCURRENCY handlers over LOOPS loops) running the JOBS
//                          batched no-op jobs to `succeeded`: the time from start to the last
//   end_to_end_per_s       JOBS / (batched enqueue time + process time)
// The no-op handler is a coroutine that returns at once, as the peers' no-op tasks do.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <afterwork/jobs/memory_store.hpp>
#include <afterwork/jobs/queue.hpp>
#include <afterwork/jobs/sqlite_store.hpp>
#include <afterwork/jobs/worker.hpp>
#include <afterwork/runtime/loop.hpp>

namespace {

using namespace std::chrono_literals;
using afterwork::JobContext;
using SteadyClock = std::chrono::steady_clock;

afterwork::Task<void> no_op() {
    co_return;
}

double seconds_since(SteadyClock::time_point start) {
    return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

struct Setup {
    std::shared_ptr<afterwork::Store> store;
    std::filesystem::path file;  // empty for memory
};

Setup open_store(const std::string& kind, const std::string& tag) {
    if (kind == "memory") return {std::make_shared<afterwork::MemoryStore>(), {}};
    const auto file = std::filesystem::temp_directory_path() /
                      ("afterwork-queue-bench-" + std::to_string(::getpid()) + "-" + tag + ".db");
    std::filesystem::remove(file);
    afterwork::SqliteOptions options;
    options.synchronous =
        kind == "sqlite-full" ? afterwork::SqliteSync::full : afterwork::SqliteSync::normal;
    return {std::shared_ptr<afterwork::Store>(afterwork::SqliteStore::open(file, options).value()),
            file};
}

void remove_files(const Setup& setup) {
    if (setup.file.empty()) return;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(setup.file.string() + suffix);
    }
}

void define_no_op(afterwork::Queue& queue) {
    queue.define("noop",
                 [](JobContext&, const boost::json::value&) { return no_op(); },
                 {.max_attempts = 1, .result_ttl = std::chrono::hours(1)});
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: queue_bench memory|sqlite|sqlite-full [JOBS] [CONCURRENCY]\n");
        return 2;
    }
    const std::string kind = argv[1];
    const int jobs = argc > 2 ? std::atoi(argv[2]) : 100'000;
    const std::size_t concurrency = argc > 3 ? static_cast<std::size_t>(std::atoi(argv[3])) : 50;
    const std::size_t loop_count = argc > 4 ? static_cast<std::size_t>(std::atoi(argv[4])) : 1;
    if (kind != "memory" && kind != "sqlite" && kind != "sqlite-full") {
        std::fprintf(stderr, "unknown store %s\n", kind.c_str());
        return 2;
    }

    {  // One at a time.
        Setup setup = open_store(kind, "one");
        afterwork::Queue queue(setup.store);
        define_no_op(queue);
        const int count = std::min(jobs, 20'000);
        const auto start = SteadyClock::now();
        for (int i = 0; i < count; ++i) queue.enqueue("noop", boost::json::value(i)).value();
        std::printf("enqueue_one_per_s=%.0f\n", count / seconds_since(start));
        remove_files(setup);
    }

    Setup setup = open_store(kind, "batch");
    afterwork::Queue queue(setup.store);
    define_no_op(queue);
    const auto enqueue_start = SteadyClock::now();
    std::vector<afterwork::EnqueueRequest> batch;
    for (int i = 0; i < jobs; i += 1000) {
        batch.clear();
        for (int j = i; j < std::min(jobs, i + 1000); ++j) {
            batch.push_back({.name = "noop", .args = boost::json::value(j), .options = {}});
        }
        queue.enqueue_many(batch).value();
    }
    const double enqueue_s = seconds_since(enqueue_start);
    std::printf("enqueue_batch_per_s=%.0f\n", jobs / enqueue_s);

    std::vector<std::unique_ptr<afterwork::Loop>> loops;
    std::vector<afterwork::Executor> executors;
    for (std::size_t i = 0; i < loop_count; ++i) {
        loops.push_back(std::make_unique<afterwork::Loop>("worker-" + std::to_string(i)));
        loops.back()->start();
        executors.push_back(loops.back()->executor());
    }
    afterwork::Worker worker(queue, executors, {.concurrency = concurrency});
    const auto process_start = SteadyClock::now();
    worker.start();
    const auto deadline = process_start + 300s;
    while (worker.stats().succeeded < static_cast<std::uint64_t>(jobs) && SteadyClock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    const double process_s = seconds_since(process_start);
    const auto stats = worker.stats();
    worker.stop(10s);
    for (auto& loop : loops) {
        loop->stop();
        loop->join();
    }
    std::printf("succeeded=%llu\n", static_cast<unsigned long long>(stats.succeeded));
    std::printf("process_per_s=%.0f\n", static_cast<double>(stats.succeeded) / process_s);
    std::printf("end_to_end_per_s=%.0f\n",
                static_cast<double>(stats.succeeded) / (enqueue_s + process_s));
    remove_files(setup);
    return stats.succeeded == static_cast<std::uint64_t>(jobs) ? 0 : 1;
}

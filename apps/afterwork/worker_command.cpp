// SPDX-License-Identifier: MIT
#include "worker_command.hpp"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>

#include <spdlog/spdlog.h>

#include <afterwork/jobs/queue.hpp>
#include <afterwork/jobs/sqlite_store.hpp>
#include <afterwork/jobs/worker.hpp>
#include <afterwork/runtime/loop.hpp>

#include "reference_service.hpp"

namespace afterwork::apps {
namespace {

std::chrono::milliseconds to_ms(double seconds) {
    return std::chrono::milliseconds(std::llround(seconds * 1000));
}

}  // namespace

WorkerCommand::WorkerCommand(CLI::App& cli) {
    command_ = cli.add_subcommand("worker", "Run the reference service's durable jobs (no HTTP)");
    command_->fallthrough();
    command_->add_option("--data-dir", data_dir_, "Folder of afterwork.db and the job files")
        ->capture_default_str();
    command_->add_option("--id", id_, "Worker id in leases (default host-pid-n)");
    command_->add_option("--queue", queues_, "A queue to serve (repeat; default every queue)");
    command_->add_option("--concurrency", concurrency_, "Jobs running at once")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000}));
    command_
        ->add_option("--job-lease",
                     lease_seconds_,
                     "Seconds a job is leased; a killed worker's jobs return after it")
        ->capture_default_str()
        ->check(CLI::Range(0.5, 86400.0));
    command_
        ->add_option("--poll-interval",
                     poll_seconds_,
                     "Seconds between looks for jobs other processes enqueued")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 3600.0));
    command_
        ->add_option("--drain-timeout",
                     drain_seconds_,
                     "Seconds running jobs get to finish at a stop signal")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 86400.0));
}

int WorkerCommand::run() const noexcept {
    try {
        // The stop signals are taken by sigwait below: blocked here, before any thread starts,
        // so every thread (loop, pools) inherits the mask and none is interrupted by them.
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

        const std::filesystem::path data_dir(data_dir_);
        std::error_code ec;
        std::filesystem::create_directories(data_dir, ec);
        if (ec) {
            spdlog::critical(
                "cannot create the data folder {}: {}", data_dir.string(), ec.message());
            return 1;
        }
        auto opened = SqliteStore::open(data_dir / "afterwork.db");
        if (!opened) {
            spdlog::critical("{}", opened.error().what());
            return 1;
        }
        auto queue = std::make_unique<Queue>(std::shared_ptr<Store>(std::move(*opened)));
        define_reference_jobs(*queue, data_dir);

        Loop loop("worker");
        loop.start();
        WorkerOptions options;
        options.id = id_;
        options.queues = queues_;
        options.concurrency = concurrency_;
        options.lease = to_ms(lease_seconds_);
        options.poll_interval = to_ms(poll_seconds_);
        Worker worker(*queue, loop.executor(), options);
        worker.start();
        std::cout << "afterwork worker " << worker.id() << " running on "
                  << (data_dir / "afterwork.db").string() << std::endl;

        int received = 0;
        sigwait(&stop_signals, &received);
        spdlog::info("worker {}: {} received, finishing running jobs (drain timeout {} s)",
                     worker.id(),
                     received == SIGINT ? "SIGINT" : "SIGTERM",
                     drain_seconds_);
        const bool clean = worker.stop(to_ms(drain_seconds_));
        if (!clean) spdlog::warn("worker {}: some store writes were still in flight", worker.id());
        const auto stats = worker.stats();
        spdlog::info(
            "worker {}: {} claimed, {} succeeded, {} retried, {} dead, {} cancelled, {} "
            "released",
            worker.id(),
            stats.claimed,
            stats.succeeded,
            stats.retried,
            stats.dead,
            stats.cancelled,
            stats.released);
        loop.stop();
        loop.join();
        spdlog::info("worker stopped");
        return 0;
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
}

}  // namespace afterwork::apps

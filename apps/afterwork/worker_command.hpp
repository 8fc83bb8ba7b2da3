// SPDX-License-Identifier: MIT
#pragma once

// `afterwork worker`: runs the reference service's durable jobs (export_report,
// send_welcome_email, simulate_work) from the data folder's database without serving HTTP —
// more workers for `afterwork serve`, on the same machine, sharing one SQLite file.
//
//   afterwork worker [--data-dir ./var] [--concurrency 10] [--queue Q]... [--job-lease 30]
//                    [--poll-interval 0.5] [--drain-timeout 30] [--id ID]
//
// Prints "afterwork worker ID running" once it claims jobs. SIGINT/SIGTERM stop it
// gracefully: no more claims, running jobs get the drain timeout, then they are cancelled
// and released to the store for another worker; exit 0. Killed outright, its jobs come back
// once their lease ends (at-least-once). A database that cannot be opened: one line on
// stderr, exit 1; bad options: exit 2.
//
// Thread safety: distinct objects safe, shared unsafe (used once by main).

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace afterwork::apps {

class WorkerCommand {
public:
    /// Adds `worker` to `cli`, which must outlive this object.
    explicit WorkerCommand(CLI::App& cli);
    WorkerCommand(const WorkerCommand&) = delete;
    WorkerCommand& operator=(const WorkerCommand&) = delete;

    bool parsed() const { return command_->parsed(); }
    /// Runs until a stop signal; returns the exit code. Never throws.
    int run() const noexcept;

private:
    CLI::App* command_ = nullptr;
    std::string data_dir_ = "./var";
    std::string id_;
    std::vector<std::string> queues_;
    std::size_t concurrency_ = 10;
    double lease_seconds_ = 30;
    double poll_seconds_ = 0.5;
    double drain_seconds_ = 30;
};

}  // namespace afterwork::apps

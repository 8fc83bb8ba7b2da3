// SPDX-License-Identifier: MIT
#pragma once

// `afterwork jobs`: look at and act on the durable jobs of a store from a
// shell.
//
// Every subcommand works on one store: `--data-dir DIR` (default ./var, the
// file DIR/afterwork.db that `afterwork serve` uses) or `--store URL`
// (sqlite:///abs/path.db or sqlite:relative/path.db). `--busy-timeout MS`
// (default 5000) bounds the wait for another process's write lock. These
// options may come before or after the subcommand.
//
//   afterwork jobs ls [--state S]... [--queue Q] [--name N] [--limit 50]
//   [--before ID] [--json]
//       newest first, as a table sized to the terminal (COLUMNS, else the
//       terminal, else 100) or as one JSON array; "more: --before ID" follows a
//       table when more jobs match
//   afterwork jobs ls --counts [--queue Q] [--json]
//       jobs per queue and state
//   afterwork jobs show ID [--json | --follow]
//       every field; --follow polls every 200 ms, draws a progress bar on a
//       terminal (one line per change otherwise) until the job is succeeded,
//       cancelled or dead
//   afterwork jobs enqueue NAME [ARGS_JSON] [--queue Q] [--priority P] [--delay
//   S | --at ISO]
//                          [--unique-key K] [--max-attempts N] [--json]
//       prints the job's id; when the unique key matched an active job, that
//       job's id, and a note on stderr
//   afterwork jobs cancel ID...  /  afterwork jobs retry ID...
//       one line per id with the outcome
//   afterwork jobs purge [--older-than DURATION [--state S]...]
//       deletes finished jobs past their expiry, a thousand per transaction;
//       with --older-than, the jobs that finished more than DURATION ago
//       (30s, 15m, 12h, 7d, 2w; 0s is every finished job) whatever their
//       expiry, oldest first, and with --state only succeeded, cancelled or
//       dead ones
//
// Exit codes: 0 done; 1 the store failed (locked, damaged, read-only, missing),
// an id was unknown or in the wrong state (the other ids are still processed),
// or a followed job ended cancelled or dead; 2 a usage error (bad option, JSON,
// number or time), before anything is read or written. Errors are one line on
// stderr: "error: ...".
//
// Read commands (ls, show) open the file read-only and never create it; enqueue
// creates the data folder and the file; cancel, retry and purge need the file
// to exist. In a folder that cannot be written (a mounted backup), ls and show
// read the file as it is (SqliteOptions::read_only), and show --follow of a job
// that has not finished fails since no change would show.
//
// Thread safety: distinct objects safe, shared unsafe (used once by main).

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace afterwork::apps {

class JobsCommand {
public:
    /// Adds `jobs` and its subcommands to `cli`, which must outlive this object.
    explicit JobsCommand(CLI::App& cli);
    JobsCommand(const JobsCommand&) = delete;
    JobsCommand& operator=(const JobsCommand&) = delete;

    /// Whether the command line named `jobs`.
    bool parsed() const { return jobs_->parsed(); }
    /// Runs the subcommand that was parsed; returns the process exit code. Never
    /// throws.
    int run() const noexcept;

private:
    int dispatch() const;
    int list() const;
    int list_counts() const;
    int show() const;
    int follow() const;
    int enqueue() const;
    int cancel() const;
    int retry() const;
    int purge() const;

    CLI::App* jobs_ = nullptr;
    CLI::App* ls_ = nullptr;
    CLI::App* show_ = nullptr;
    CLI::App* enqueue_ = nullptr;
    CLI::App* cancel_ = nullptr;
    CLI::App* retry_ = nullptr;
    CLI::App* purge_ = nullptr;

    // Options are kept as text where a bad value should get our message and exit
    // code 2 rather than CLI11's.
    std::string data_dir_ = "./var";
    std::string store_url_;
    std::string busy_timeout_ = "5000";

    std::vector<std::string> states_;
    std::string queue_;
    std::string name_;
    std::string limit_ = "50";
    std::string before_;
    bool counts_ = false;
    bool json_ = false;

    std::string id_;
    bool follow_ = false;

    std::string job_name_;
    std::string args_ = "null";
    std::string job_queue_ = "default";
    std::string priority_ = "0";
    std::string delay_;
    std::string at_;
    std::string unique_key_;
    std::string max_attempts_ = "3";

    std::vector<std::string> ids_;

    std::string older_than_;
    std::vector<std::string> purge_states_;
};

}  // namespace afterwork::apps

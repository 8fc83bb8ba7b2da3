// SPDX-License-Identifier: MIT
#pragma once

// `afterwork cron`: check a cron expression before deploying it.
//
//   afterwork cron next "EXPR" [--tz ZONE] [-n COUNT] [--after ISO-TIME]
//       the next COUNT (default 5, at most 10000) fire times after ISO-TIME (default now), one
//       per line in ISO 8601 with the zone's offset: 2026-11-23T09:00:00+05:30
//   afterwork cron explain "EXPR"
//       when it fires, in English: At 09:00 every day
//
// A bad expression, zone, count or time prints one line on stderr and exits with 2.
//
// Thread safety: distinct objects safe, shared unsafe (used once by main).

#include <string>

#include <CLI/CLI.hpp>

namespace afterwork::apps {

class CronCommand {
public:
    /// Adds `cron` and its subcommands to `cli`, which must outlive this object.
    explicit CronCommand(CLI::App& cli);
    CronCommand(const CronCommand&) = delete;
    CronCommand& operator=(const CronCommand&) = delete;

    /// Whether the command line named `cron`.
    bool parsed() const { return cron_->parsed(); }
    /// Runs the subcommand that was parsed; returns the process exit code.
    int run() const;

private:
    int next() const;
    int explain() const;

    CLI::App* cron_ = nullptr;
    CLI::App* next_ = nullptr;
    CLI::App* explain_ = nullptr;
    std::string expression_;
    std::string zone_ = "UTC";
    std::string count_ = "5";  // text, so a bad count gets our message and exit code
    std::string after_;
};

}  // namespace afterwork::apps

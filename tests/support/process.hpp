// SPDX-License-Identifier: MIT
#pragma once

// testing::Process: a child process for tests of the `afterwork` command. It is started with
// fork/exec, its stdout and stderr go to files (so the child never blocks on a full pipe and
// the output survives for failure messages), and every wait has a deadline. The object is the
// guard: destroying it while the child still runs kills it with SIGKILL and reaps it, so a
// failed assertion never leaks a server.
//
// testing::free_data_dir: a fresh, empty temporary directory removed with its contents when
// the returned TempDir goes (kept when AFTERWORK_KEEP_TEST_DIRS is set, for debugging).
//
// Thread safety: distinct objects safe, shared unsafe.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace afterwork::testing {

/// A temporary directory, removed recursively on destruction.
class TempDir {
public:
    explicit TempDir(std::string_view prefix = "afterwork-test");
    TempDir(TempDir&& other) noexcept;
    TempDir& operator=(TempDir&&) = delete;
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();

    const std::filesystem::path& path() const noexcept { return path_; }
    std::string string() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

/// A fresh empty temporary directory (under $TMPDIR or /tmp).
TempDir free_data_dir(std::string_view prefix = "afterwork-data");

/// What a command that ran to its end printed, and its exit code (-1 when it did not exit).
struct CommandResult {
    int code = -1;
    std::string out;
    std::string err;
};

/// How a child ended.
struct ExitStatus {
    bool exited = false;  ///< ended by exit(); `code` holds the status
    int code = -1;
    int signal = 0;  ///< the signal that ended it, when not `exited`

    bool success() const noexcept { return exited && code == 0; }
    std::string describe() const;
};

struct ProcessOptions {
    /// Variables set (or overridden) on top of the test's own environment.
    std::vector<std::pair<std::string, std::string>> env;
    /// The child's working directory; empty keeps the test's.
    std::filesystem::path working_dir;
};

class Process {
public:
    /// Starts `program` with `args` (argv[0] is `program`). Throws `std::system_error` when it
    /// cannot be started, exec failures included.
    Process(std::filesystem::path program,
            std::vector<std::string> args,
            ProcessOptions options = {});
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    /// Kills (SIGKILL) and reaps the child if it still runs.
    ~Process();

    pid_t pid() const noexcept { return pid_; }

    /// Everything the child wrote to stdout / stderr so far.
    std::string stdout_text() const;
    std::string stderr_text() const;
    /// Both outputs and the exit status, for failure messages.
    std::string diagnostics() const;

    /// Waits until a complete stdout line satisfies `match` and returns it; nullopt when the
    /// deadline passes or the child exits first.
    std::optional<std::string> wait_for_line(
        const std::function<bool(std::string_view)>& match,
        std::chrono::milliseconds timeout = std::chrono::seconds(10));

    /// Sends `signal` to the child (no effect once it has been reaped).
    void send_signal(int signal) noexcept;
    /// Waits for the child to end; nullopt when it still runs at the deadline.
    std::optional<ExitStatus> wait_exit(
        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// SIGKILL, then reap. Returns how it ended (it may have ended by itself before).
    ExitStatus kill() noexcept;
    /// Whether the child has not ended yet (reaps it if it has).
    bool running() noexcept;
    /// How it ended, once reaped.
    const std::optional<ExitStatus>& exit_status() const noexcept { return status_; }

private:
    bool try_reap(bool block) noexcept;

    pid_t pid_ = -1;
    std::optional<ExitStatus> status_;
    TempDir output_dir_;
    std::filesystem::path stdout_path_;
    std::filesystem::path stderr_path_;
};

/// The line `afterwork serve` prints on stdout once it serves, followed by its port.
inline constexpr std::string_view kServeBanner = "afterwork serving on http://127.0.0.1:";

/// Waits for `kServeBanner` on the stdout of `server` and returns the port it names; nullopt
/// when no banner came within `timeout` (generous by default: an ASan build on a busy machine)
/// or it names no port.
std::optional<std::uint16_t> wait_for_serve_port(
    Process& server, std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// Runs `program` with `args` to its end (a failed expectation when it has not exited after
/// `timeout`, generous for an ASan build on a busy machine) and returns what it printed.
CommandResult run_command(const std::filesystem::path& program,
                          std::vector<std::string> args,
                          ProcessOptions options = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace afterwork::testing

// SPDX-License-Identifier: MIT
#include "support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include <gtest/gtest.h>

extern char** environ;

namespace afterwork::testing {

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(5);

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::filesystem::path temp_root() {
    if (const char* dir = std::getenv("TMPDIR"); dir && *dir) return dir;
    return "/tmp";
}

}  // namespace

TempDir::TempDir(std::string_view prefix) {
    std::string pattern = (temp_root() / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir::~TempDir() {
    if (path_.empty() || std::getenv("AFTERWORK_KEEP_TEST_DIRS")) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

TempDir free_data_dir(std::string_view prefix) { return TempDir(prefix); }

std::string ExitStatus::describe() const {
    if (exited) return "exit code " + std::to_string(code);
    return "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
}

Process::Process(std::filesystem::path program,
                 std::vector<std::string> args,
                 ProcessOptions options)
    : output_dir_("afterwork-process"),
      stdout_path_(output_dir_.path() / "stdout.txt"),
      stderr_path_(output_dir_.path() / "stderr.txt") {
    // Everything the child needs is prepared before fork: between fork and exec a
    // multi-threaded parent's child may only make async-signal-safe calls.
    std::vector<std::string> argv_storage;
    argv_storage.push_back(program.string());
    for (auto& arg : args) argv_storage.push_back(std::move(arg));
    std::vector<char*> argv;
    for (auto& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);

    std::vector<std::string> env_storage;
    for (char** entry = environ; *entry; ++entry) {
        std::string_view text(*entry);
        auto name = text.substr(0, text.find('='));
        bool overridden = false;
        for (const auto& [key, value] : options.env) overridden = overridden || key == name;
        if (!overridden) env_storage.emplace_back(text);
    }
    for (const auto& [key, value] : options.env) env_storage.push_back(key + "=" + value);
    std::vector<char*> envp;
    for (auto& entry : env_storage) envp.push_back(entry.data());
    envp.push_back(nullptr);

    const std::string working_dir = options.working_dir.string();
    int out = ::open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    // The child reports a failed exec through this pipe; a successful exec closes it.
    int report[2] = {-1, -1};
    if (out < 0 || err < 0 || devnull < 0 || ::pipe2(report, O_CLOEXEC) != 0) {
        int error = errno;
        for (int fd : {out, err, devnull, report[0], report[1]}) {
            if (fd >= 0) ::close(fd);
        }
        throw std::system_error(error, std::generic_category(), "cannot prepare the child");
    }

    pid_ = ::fork();
    if (pid_ == 0) {
        ::dup2(devnull, STDIN_FILENO);
        ::dup2(out, STDOUT_FILENO);
        ::dup2(err, STDERR_FILENO);
        // Leave no test socket open in the child (some are not close-on-exec).
        const int keep = report[1];
        if (keep > 3) ::syscall(SYS_close_range, 3u, static_cast<unsigned>(keep - 1), 0u);
        ::syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0u, 0u);
        int error = 0;
        if (!working_dir.empty() && ::chdir(working_dir.c_str()) != 0) {
            error = errno;
        } else {
            ::execve(argv[0], argv.data(), envp.data());
            error = errno;
        }
        [[maybe_unused]] auto ignored = ::write(keep, &error, sizeof error);
        ::_exit(127);
    }
    int fork_error = errno;
    ::close(out);
    ::close(err);
    ::close(devnull);
    ::close(report[1]);
    if (pid_ < 0) {
        ::close(report[0]);
        throw std::system_error(fork_error, std::generic_category(), "fork");
    }
    int child_error = 0;
    ssize_t n;
    do {
        n = ::read(report[0], &child_error, sizeof child_error);
    } while (n < 0 && errno == EINTR);
    ::close(report[0]);
    if (n == sizeof child_error) {
        try_reap(true);
        pid_ = -1;
        throw std::system_error(
            child_error, std::generic_category(), "cannot run " + program.string());
    }
}

Process::~Process() { kill(); }

std::string Process::stdout_text() const { return read_file(stdout_path_); }
std::string Process::stderr_text() const { return read_file(stderr_path_); }

std::string Process::diagnostics() const {
    std::string text = "--- stdout ---\n" + stdout_text() + "--- stderr ---\n" + stderr_text();
    text += "--- status: ";
    text += status_ ? status_->describe() : std::string("running");
    return text;
}

std::optional<std::string> Process::wait_for_line(
    const std::function<bool(std::string_view)>& match, std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
        // Exit checked first: the output of a child that has ended is complete.
        const bool ended = !running();
        const std::string text = stdout_text();
        std::string_view rest(text);
        for (auto end = rest.find('\n'); end != std::string_view::npos; end = rest.find('\n')) {
            std::string_view line = rest.substr(0, end);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (match(line)) return std::string(line);
            rest.remove_prefix(end + 1);
        }
        if (ended || SteadyClock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(kPollInterval);
    }
}

void Process::send_signal(int signal) noexcept {
    if (pid_ > 0 && !status_) ::kill(pid_, signal);
}

bool Process::try_reap(bool block) noexcept {
    if (pid_ <= 0) return true;
    if (status_) return true;
    int raw = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &raw, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return false;
    ExitStatus status;
    if (r > 0 && WIFEXITED(raw)) {
        status.exited = true;
        status.code = WEXITSTATUS(raw);
    } else if (r > 0 && WIFSIGNALED(raw)) {
        status.signal = WTERMSIG(raw);
    }
    status_ = status;
    return true;
}

std::optional<ExitStatus> Process::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    while (!try_reap(false)) {
        if (SteadyClock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(kPollInterval);
    }
    return status_;
}

ExitStatus Process::kill() noexcept {
    if (pid_ <= 0) return {};
    if (!try_reap(false)) {
        ::kill(pid_, SIGKILL);
        try_reap(true);
    }
    return *status_;
}

bool Process::running() noexcept { return !try_reap(false); }

CommandResult run_command(const std::filesystem::path& program,
                          std::vector<std::string> args,
                          ProcessOptions options,
                          std::chrono::milliseconds timeout) {
    Process process(program, std::move(args), std::move(options));
    const auto status = process.wait_exit(timeout);
    EXPECT_TRUE(status && status->exited) << process.diagnostics();
    return {status && status->exited ? status->code : -1,
            process.stdout_text(),
            process.stderr_text()};
}

std::optional<std::uint16_t> wait_for_serve_port(Process& server,
                                                 std::chrono::milliseconds timeout) {
    auto banner = server.wait_for_line(
        [](std::string_view line) { return line.starts_with(kServeBanner); }, timeout);
    if (!banner) return std::nullopt;
    const std::string_view digits = std::string_view(*banner).substr(kServeBanner.size());
    std::uint16_t port = 0;
    const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (parsed.ec != std::errc() || port == 0) return std::nullopt;
    return port;
}

}  // namespace afterwork::testing

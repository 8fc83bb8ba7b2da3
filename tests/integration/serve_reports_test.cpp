// SPDX-License-Identifier: MIT
// The report jobs and recurring tasks of `afterwork serve`, end to end: the built binary
// (AFTERWORK_BINARY) in a child process on a free port with a fresh data folder and short task
// intervals, driven over real sockets. Every wait polls a condition under a generous deadline;
// the only timing assert is a lower bound (a finished job stays visible for its time to live).
//
// Some tests hold a job inside its blocking part (the report file write, done through
// to_thread) by putting a FIFO where the report file goes: opening a FIFO for writing blocks
// until a reader opens it, as a write to a slow disk would. /proc/<pid>/task/*/wchan tells
// when a server thread is parked there.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "support/process.hpp"
#include "support/socket_client.hpp"
#include "support/eventually.hpp"

#ifndef AFTERWORK_BINARY
#error "AFTERWORK_BINARY must name the afterwork executable"
#endif

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using testing::http_request;
using testing::Process;
using testing::RawResponse;

// Generous: an ASan build on a busy two-core machine.
constexpr auto kStartTimeout = 60s;
constexpr auto kExitTimeout = 60s;
constexpr auto kPollTimeout = 30s;
constexpr auto kPollEvery = 10ms;

// The short intervals every test runs with, as given on the command line and as /tasks must
// report them.
const std::map<std::string, double> kPeriodic = {
    {"session-cleanup", 0.02}, {"exchange-rates", 0.03}, {"analytics", 0.05}};

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

bool is_job_id(std::string_view id) {
    static const std::regex pattern("[0-9a-f]{32}");
    return std::regex_match(id.begin(), id.end(), pattern);
}

bool is_iso_utc(const boost::json::value& v) {
    static const std::regex pattern(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)");
    if (!v.is_string()) return false;
    const auto& text = v.get_string();
    return std::regex_match(text.begin(), text.end(), pattern);
}

// What a job writes to reports/<id>.json.
std::string report_text(const std::string& id) {
    return R"({"job_id":")" + id + R"(","rows":0})" + "\n";
}

std::string str(const boost::json::value& v) {
    return v.is_string() ? std::string(v.get_string()) : boost::json::serialize(v);
}

bool eventually(const std::function<bool()>& condition, SteadyClock::duration timeout = kPollTimeout) {
    return testing::eventually(condition, timeout, kPollEvery);
}

// Whether a thread of `pid` is parked in open(2) of a FIFO, waiting for a reader; nullopt when
// this kernel does not say (wchan hidden).
std::optional<bool> blocked_on_fifo_open(pid_t pid) {
    bool readable = false;
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        auto wchan = read_text(task.path() / "wchan");
        if (!wchan.empty() && wchan != "0") readable = true;
        if (wchan == "wait_for_partner" || wchan == "fifo_open") return true;
    }
    if (!readable) return std::nullopt;
    return false;
}

// The read end of a FIFO a server thread is blocked writing to: opening it lets that open
// return; `drain` reads until the writer has closed (never closing early: the writer would get
// SIGPIPE).
class FifoReader {
public:
    explicit FifoReader(const std::filesystem::path& path)
        : fd_(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)) {}
    FifoReader(const FifoReader&) = delete;
    FifoReader& operator=(const FifoReader&) = delete;
    ~FifoReader() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool is_open() const { return fd_ >= 0; }

    // What the writer wrote, once it has closed; nullopt if it is still open at the deadline.
    std::optional<std::string> drain(SteadyClock::duration timeout = kPollTimeout) {
        const auto deadline = SteadyClock::now() + timeout;
        std::string text;
        for (;;) {
            char buffer[4096];
            ssize_t n = ::read(fd_, buffer, sizeof buffer);
            if (n > 0) {
                text.append(buffer, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0) return text;  // the writer closed
            if (errno != EAGAIN && errno != EINTR) return std::nullopt;
            if (SteadyClock::now() >= deadline) return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            ::poll(&p, 1, 50);
        }
    }

private:
    int fd_;
};

std::vector<std::string> serve_args(const std::string& data_dir,
                                    const std::string& report_ttl,
                                    const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"serve",
                                     "--host",
                                     "127.0.0.1",
                                     "--port",
                                     "0",
                                     "--data-dir",
                                     data_dir,
                                     "--threads",
                                     "2",
                                     "--session-cleanup-interval",
                                     "0.02",
                                     "--exchange-rates-interval",
                                     "0.03",
                                     "--analytics-interval",
                                     "0.05",
                                     "--cache-warm-interval",
                                     "0.02",
                                     "--report-ttl",
                                     report_ttl};
    // `extra` holds flag/value pairs: a flag already above gets the new value (the command
    // refuses an option given twice), others are appended.
    for (std::size_t i = 0; i + 1 < extra.size(); i += 2) {
        auto flag = std::find(args.begin(), args.end(), extra[i]);
        if (flag != args.end()) {
            *std::next(flag) = extra[i + 1];
        } else {
            args.push_back(extra[i]);
            args.push_back(extra[i + 1]);
        }
    }
    return args;
}

class ServeReports : public ::testing::Test {
protected:
    // Starts the service and learns its port from the banner on stdout. A long time to live
    // unless told, so no job vanishes in the middle of a test that does not test that.
    void start(const std::string& report_ttl = "3600", const std::vector<std::string>& extra = {}) {
        process_.emplace(AFTERWORK_BINARY, serve_args(data_.string(), report_ttl, extra));
        auto port = testing::wait_for_serve_port(*process_, kStartTimeout);
        ASSERT_TRUE(port) << "no banner on stdout\n" << process_->diagnostics();
        port_ = *port;
    }

    void TearDown() override {
        if (HasFailure() && process_) {
            std::cerr << "afterwork serve output (tail):\n" << tail(process_->diagnostics());
        }
    }

    // The periodic tasks log every few ms: show the end of the output only.
    static std::string tail(const std::string& text, std::size_t bytes = 16'000) {
        return text.size() <= bytes ? text : "...\n" + text.substr(text.size() - bytes);
    }

    std::filesystem::path reports() const { return data_.path() / "reports"; }
    std::filesystem::path report_file(const std::string& id) const {
        return reports() / (id + ".json");
    }

    RawResponse request(std::string_view method, std::string_view target) {
        auto response = http_request(port_, method, target);
        EXPECT_TRUE(response) << method << " " << target << ": " << response.error().message();
        return response ? *response : RawResponse{};
    }
    RawResponse post(std::string_view target) { return request("POST", target); }
    RawResponse get(std::string_view target) { return request("GET", target); }
    RawResponse del(std::string_view target) { return request("DELETE", target); }

    static boost::json::value json_of(const RawResponse& response) {
        try {
            return response.json();
        } catch (const std::exception& e) {
            ADD_FAILURE() << e.what();
            return nullptr;
        }
    }

    // Starts a report job of `seconds` and returns its id ("" after a failed expectation).
    std::string start_job(std::string_view seconds) {
        auto response = post("/reports/generate?seconds=" + std::string(seconds));
        EXPECT_EQ(response.status, 200) << response.body;
        auto json = json_of(response);
        if (!json.is_object() || !json.as_object().contains("job_id")) {
            ADD_FAILURE() << "no job id in " << response.body;
            return {};
        }
        auto id = str(json.at("job_id"));
        EXPECT_TRUE(is_job_id(id)) << response.body;
        EXPECT_EQ(response.body, R"({"job_id":")" + id + R"(","status":"running"})");
        return id;
    }

    // The job's status ("running", "complete", ...), or "404" when the service does not know it.
    std::string status_of(const std::string& id) {
        auto response = get("/reports/" + id + "/status");
        if (response.status == 404) return "404";
        EXPECT_EQ(response.status, 200) << response.body;
        auto json = json_of(response);
        if (!json.is_object() || !json.as_object().contains("status")) return "?" + response.body;
        EXPECT_EQ(str(json.at("job_id")), id) << response.body;
        return str(json.at("status"));
    }

    // Polls the status until it is not `running` and returns it: the caller checks that the
    // first state after `running` is the final one it expects.
    std::string final_status(const std::string& id) {
        std::string status;
        bool ended = eventually([&] {
            status = status_of(id);
            return status != "running";
        });
        EXPECT_TRUE(ended) << "job " << id << " still running";
        return status;
    }

    boost::json::array tasks() {
        auto response = get("/tasks");
        EXPECT_EQ(response.status, 200) << response.body;
        auto json = json_of(response);
        if (!json.is_array()) {
            ADD_FAILURE() << "GET /tasks: " << response.body;
            return {};
        }
        return json.as_array();
    }

    static std::map<std::string, boost::json::object> by_name(const boost::json::array& list) {
        std::map<std::string, boost::json::object> named;
        for (const auto& item : list) {
            if (item.is_object() && item.as_object().contains("name")) {
                named[str(item.at("name"))] = item.as_object();
            }
        }
        return named;
    }

    static std::uint64_t runs_of(const boost::json::object& task) {
        return task.contains("runs") ? task.at("runs").to_number<std::uint64_t>() : 0;
    }

    // Waits until every periodic task has run at least `runs` times.
    bool periodic_tasks_ran(std::uint64_t runs) {
        return eventually([&] {
            auto named = by_name(tasks());
            for (const auto& [name, interval] : kPeriodic) {
                if (!named.contains(name) || runs_of(named[name]) < runs) return false;
            }
            return true;
        });
    }

    bool stderr_has(std::string_view text) const {
        return process_->stderr_text().find(text) != std::string::npos;
    }

    // A running job held inside its blocking part: the FIFO at its report path keeps the
    // write's open(2) waiting for a reader. Returns its id, or "" (after a failure, or with
    // `wchan_hidden_` set when this kernel cannot tell).
    std::string job_blocked_in_its_file_write() {
        std::filesystem::create_directories(reports());
        // The FIFO must be in place before the job's sleep ends; on a machine too slow for
        // that the job has written a plain file already, and another job is tried.
        for (int attempt = 0; attempt < 5; ++attempt) {
            auto id = start_job("1");
            if (id.empty()) return {};
            if (::mkfifo(report_file(id).c_str(), 0644) != 0) {
                EXPECT_EQ(errno, EEXIST) << std::strerror(errno);
                continue;
            }
            std::optional<bool> blocked;
            bool parked = eventually([&] {
                blocked = blocked_on_fifo_open(process_->pid());
                return !blocked || *blocked;
            });
            if (!blocked) {
                FifoReader release(report_file(id));
                release.drain();
                wchan_hidden_ = true;  // the caller skips
                return {};
            }
            EXPECT_TRUE(parked) << "no server thread blocked on the report FIFO";
            return parked ? id : std::string{};
        }
        ADD_FAILURE() << "every job wrote its file before the FIFO was in place";
        return {};
    }

    testing::TempDir data_ = testing::free_data_dir();
    std::optional<Process> process_;
    std::uint16_t port_ = 0;
    bool wchan_hidden_ = false;
};

TEST_F(ServeReports, ShortJobRunsThenCompletesAndWritesItsReport) {
    ASSERT_NO_FATAL_FAILURE(start());
    auto response = post("/reports/generate?seconds=0.2");
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_NE(response.header("Content-Type").value_or("").find("application/json"),
              std::string_view::npos);
    auto json = json_of(response);
    ASSERT_TRUE(json.is_object()) << response.body;
    EXPECT_EQ(json.as_object().size(), 2u) << response.body;
    const auto id = str(json.at("job_id"));
    EXPECT_TRUE(is_job_id(id)) << id;
    EXPECT_EQ(str(json.at("status")), "running");

    // running (as many polls as it takes), then complete; nothing else on the way.
    EXPECT_EQ(final_status(id), "complete");
    auto done = get("/reports/" + id + "/status");
    EXPECT_EQ(done.status, 200);
    EXPECT_EQ(done.body, R"({"job_id":")" + id + R"(","status":"complete"})");
    // `complete` is reported after the blocking write returned: the file is there.
    ASSERT_TRUE(std::filesystem::is_regular_file(report_file(id))) << report_file(id);
    EXPECT_EQ(read_text(report_file(id)), report_text(id));

    // Each job has its own id and report; seconds=0 is a valid (immediate) job.
    auto second = start_job("0");
    ASSERT_FALSE(second.empty());
    EXPECT_NE(second, id);
    EXPECT_EQ(final_status(second), "complete");
    EXPECT_TRUE(std::filesystem::is_regular_file(report_file(second)));
}

TEST_F(ServeReports, DeleteCancelsALongJobAndRepeatingItIsANoOp) {
    ASSERT_NO_FATAL_FAILURE(start());
    auto id = start_job("3600");
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(status_of(id), "running");

    auto cancelled = del("/reports/" + id);
    EXPECT_EQ(cancelled.status, 200);
    EXPECT_EQ(cancelled.body, R"({"job_id":")" + id + R"(","status":"cancelled"})");
    // The job saw the cancellation at its sleep and ran its clean-up.
    EXPECT_TRUE(eventually([&] { return stderr_has("[" + id + "] report cancelled"); }))
        << tail(process_->stderr_text());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(status_of(id), "cancelled");

    auto again = del("/reports/" + id);
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.body, R"({"job_id":")" + id + R"(","status":"cancelled"})");
    EXPECT_EQ(status_of(id), "cancelled");
    EXPECT_FALSE(std::filesystem::exists(report_file(id)));

    // Without ?seconds the job takes the default minute: still running, and cancellable.
    auto response = post("/reports/generate");
    ASSERT_EQ(response.status, 200) << response.body;
    auto default_id = str(json_of(response).at("job_id"));
    EXPECT_EQ(status_of(default_id), "running");
    EXPECT_EQ(del("/reports/" + default_id).status, 200);
    EXPECT_EQ(status_of(default_id), "cancelled");

    // Deleting a job that has completed changes nothing: 200 with its final state.
    auto finished = start_job("0");
    ASSERT_EQ(final_status(finished), "complete");
    auto late = del("/reports/" + finished);
    EXPECT_EQ(late.status, 200);
    EXPECT_EQ(late.body, R"({"job_id":")" + finished + R"(","status":"complete"})");
    EXPECT_EQ(status_of(finished), "complete");
}

TEST_F(ServeReports, DeleteCancelsAJobBlockedInItsBlockingPart) {
    ASSERT_NO_FATAL_FAILURE(start());
    auto id = job_blocked_in_its_file_write();
    if (wchan_hidden_) GTEST_SKIP() << "/proc/<pid>/task/*/wchan is hidden here";
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(status_of(id), "running");

    // to_thread's wait is cancellable: the answer does not wait for the blocked write.
    auto cancelled = del("/reports/" + id);
    EXPECT_EQ(cancelled.status, 200);
    EXPECT_EQ(cancelled.body, R"({"job_id":")" + id + R"(","status":"cancelled"})");

    // The write itself cannot be interrupted: released, it runs to its end, and the job
    // stays cancelled.
    FifoReader reader(report_file(id));
    ASSERT_TRUE(reader.is_open());
    auto written = reader.drain();
    ASSERT_TRUE(written) << "the report write did not finish once released";
    EXPECT_EQ(*written, report_text(id));
    EXPECT_EQ(status_of(id), "cancelled");
    EXPECT_EQ(get("/healthz").status, 200);
}

TEST_F(ServeReports, JobThatCannotWriteItsReportFailsWithTheError) {
    ASSERT_NO_FATAL_FAILURE(start());
    // A plain file where the reports folder goes: the job's blocking part throws.
    std::ofstream(reports()) << "not a folder\n";
    auto id = start_job("0");
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(final_status(id), "failed");
    auto response = get("/reports/" + id + "/status");
    EXPECT_EQ(response.status, 200);
    auto json = json_of(response);
    ASSERT_TRUE(json.is_object()) << response.body;
    ASSERT_TRUE(json.as_object().contains("error")) << response.body;
    EXPECT_FALSE(str(json.at("error")).empty()) << response.body;

    // Deleting a failed job changes nothing.
    auto late = del("/reports/" + id);
    EXPECT_EQ(late.status, 200);
    EXPECT_EQ(str(json_of(late).at("status")), "failed") << late.body;
    EXPECT_EQ(get("/healthz").status, 200);
}

TEST_F(ServeReports, UnknownIdsAndBadDurationsGetDefinedErrors) {
    ASSERT_NO_FATAL_FAILURE(start());
    const std::string unknown(32, '0');
    for (auto target : {"/reports/" + unknown + "/status", std::string("/reports/nope/status")}) {
        auto response = get(target);
        EXPECT_EQ(response.status, 404) << target;
        EXPECT_EQ(response.body, R"({"detail":"report job not found"})") << target;
    }
    for (auto target : {"/reports/" + unknown, std::string("/reports/nope")}) {
        auto response = del(target);
        EXPECT_EQ(response.status, 404) << target;
        EXPECT_EQ(response.body, R"({"detail":"report job not found"})") << target;
    }

    for (std::string bad : {"-1", "abc", "1e9", "", "nan", "inf", "86401"}) {
        SCOPED_TRACE("seconds=" + bad);
        auto response = post("/reports/generate?seconds=" + bad);
        EXPECT_EQ(response.status, 422) << response.body;
        auto json = json_of(response);
        ASSERT_TRUE(json.is_object() && json.as_object().contains("detail")) << response.body;
        const auto& detail = json.at("detail");
        ASSERT_TRUE(detail.is_array() && !detail.as_array().empty()) << response.body;
        EXPECT_EQ(detail.as_array().front().at("loc"),
                  boost::json::value(boost::json::array{"query", "seconds"}))
            << response.body;
    }

    // An empty id is no id.
    auto empty_id = get("/reports//status");
    EXPECT_EQ(empty_id.status, 404) << empty_id.body;
    auto empty_delete = del("/reports/");
    EXPECT_EQ(empty_delete.status, 404) << empty_delete.body;

    // The largest duration is accepted (and cancelled at once).
    auto longest = start_job("86400");
    ASSERT_FALSE(longest.empty());
    EXPECT_EQ(del("/reports/" + longest).status, 200);
    EXPECT_EQ(get("/healthz").status, 200);
}

TEST_F(ServeReports, FinishedJobsStayVisibleForTheirTimeToLiveThenAnswer404) {
    constexpr auto kTtl = 1s;
    ASSERT_NO_FATAL_FAILURE(start("1"));
    auto long_job = start_job("3600");
    ASSERT_FALSE(long_job.empty());
    const auto long_started = SteadyClock::now();

    // When the job was last seen running: it finished after that.
    auto last_running = SteadyClock::now();
    auto id = start_job("0.05");
    ASSERT_FALSE(id.empty());
    std::string status = "running";
    ASSERT_TRUE(eventually([&] {
        const auto asked = SteadyClock::now();
        status = status_of(id);
        if (status == "running") last_running = asked;
        return status != "running";
    })) << "job still running";
    // Visible right after it completed.
    ASSERT_EQ(status, "complete");

    auto cancelled = start_job("3600");
    ASSERT_FALSE(cancelled.empty());
    const auto cancel_asked = SteadyClock::now();
    ASSERT_EQ(str(json_of(del("/reports/" + cancelled)).at("status")), "cancelled");

    // Gone once the time to live has passed, never before; a job never seen in another state.
    SteadyClock::time_point gone_at;
    ASSERT_TRUE(eventually([&] {
        auto now_status = status_of(id);
        gone_at = SteadyClock::now();
        EXPECT_TRUE(now_status == "complete" || now_status == "404") << now_status;
        return now_status == "404";
    })) << "the completed job never expired";
    // The server's clock and ours tick alike; a little slack for their granularity.
    EXPECT_GE(gone_at - last_running, kTtl - 100ms);

    // A cancelled job expires the same way.
    ASSERT_TRUE(eventually([&] {
        auto now_status = status_of(cancelled);
        gone_at = SteadyClock::now();
        EXPECT_TRUE(now_status == "cancelled" || now_status == "404") << now_status;
        return now_status == "404";
    })) << "the cancelled job never expired";
    EXPECT_GE(gone_at - cancel_asked, kTtl - 100ms);
    EXPECT_EQ(del("/reports/" + cancelled).status, 404);

    // A job that has not finished does not expire, however long ago it started.
    ASSERT_GE(SteadyClock::now() - long_started, kTtl);
    EXPECT_EQ(status_of(long_job), "running");
    EXPECT_EQ(str(json_of(del("/reports/" + long_job)).at("status")), "cancelled");
}

TEST_F(ServeReports, TasksListsPeriodicAndSupervisedTasksWithGrowingRunCounts) {
    ASSERT_NO_FATAL_FAILURE(start());
    auto response = get("/tasks");
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_NE(response.header("Content-Type").value_or("").find("application/json"),
              std::string_view::npos);
    // Each periodic task has run once (the first run is due at once), so its times are set.
    ASSERT_TRUE(periodic_tasks_ran(1)) << response.body;

    auto first = tasks();
    ASSERT_EQ(first.size(), 4u) << boost::json::serialize(first);
    auto named = by_name(first);
    for (const auto& [name, interval] : kPeriodic) {
        SCOPED_TRACE(name);
        ASSERT_TRUE(named.contains(name)) << boost::json::serialize(first);
        const auto& task = named[name];
        EXPECT_EQ(str(task.at("kind")), "periodic");
        auto state = str(task.at("state"));
        EXPECT_TRUE(state == "scheduled" || state == "running") << state;
        ASSERT_TRUE(task.contains("interval_seconds")) << boost::json::serialize(task);
        EXPECT_DOUBLE_EQ(task.at("interval_seconds").to_number<double>(), interval);
        EXPECT_GE(runs_of(task), 1u);
        EXPECT_EQ(task.at("failures"), 0) << boost::json::serialize(task);
        EXPECT_EQ(task.at("restarts"), 0) << boost::json::serialize(task);
        EXPECT_TRUE(task.contains("skipped")) << boost::json::serialize(task);
        EXPECT_TRUE(task.at("last_error").is_null()) << boost::json::serialize(task);
        EXPECT_TRUE(is_iso_utc(task.at("last_run"))) << boost::json::serialize(task);
        EXPECT_TRUE(is_iso_utc(task.at("next_run"))) << boost::json::serialize(task);
        // Same format, fixed width: text order is time order. Between runs, the next comes
        // after the last.
        if (state == "scheduled") {
            EXPECT_GT(str(task.at("next_run")), str(task.at("last_run")))
                << boost::json::serialize(task);
        }
    }
    ASSERT_TRUE(named.contains("cache-warmer")) << boost::json::serialize(first);
    const auto& warmer = named["cache-warmer"];
    EXPECT_EQ(str(warmer.at("kind")), "supervised");
    EXPECT_EQ(str(warmer.at("state")), "running");
    EXPECT_EQ(runs_of(warmer), 1u) << boost::json::serialize(warmer);  // never restarted
    EXPECT_EQ(warmer.at("failures"), 0) << boost::json::serialize(warmer);
    EXPECT_EQ(warmer.at("restarts"), 0) << boost::json::serialize(warmer);
    EXPECT_TRUE(warmer.at("last_error").is_null()) << boost::json::serialize(warmer);
    EXPECT_TRUE(is_iso_utc(warmer.at("last_run"))) << boost::json::serialize(warmer);
    EXPECT_FALSE(warmer.contains("interval_seconds")) << boost::json::serialize(warmer);

    // The counts grow between polls, and nothing fails.
    std::map<std::string, std::uint64_t> before;
    for (const auto& [name, interval] : kPeriodic) before[name] = runs_of(named[name]);
    boost::json::array later;
    EXPECT_TRUE(eventually([&] {
        later = tasks();
        auto now = by_name(later);
        for (const auto& [name, runs] : before) {
            if (!now.contains(name) || runs_of(now[name]) <= runs) return false;
        }
        return true;
    })) << boost::json::serialize(later);
    for (const auto& [name, task] : by_name(later)) {
        EXPECT_EQ(task.at("failures"), 0) << boost::json::serialize(task);
    }
    // The warmer really runs: its loop logs each pass.
    EXPECT_TRUE(eventually([&] {
        auto text = process_->stderr_text();
        auto first_pass = text.find("warming cache...");
        return first_pass != std::string::npos &&
               text.find("warming cache...", first_pass + 1) != std::string::npos;
    }));
}

TEST_F(ServeReports, TasksReportIntervalsExactlyAsGiven) {
    // Seconds become milliseconds rounded, not truncated: 2.01 * 1000 is 2009.9999999999998
    // in binary floating point, and 741 of the 99,999 values 0.001..99.999 (1.001 too) would
    // lose a millisecond.
    ASSERT_NO_FATAL_FAILURE(
        start("3600", {"--exchange-rates-interval", "2.01", "--analytics-interval", "1.001"}));
    auto named = by_name(tasks());
    ASSERT_TRUE(named.contains("exchange-rates") && named.contains("analytics"));
    EXPECT_DOUBLE_EQ(named["exchange-rates"].at("interval_seconds").to_number<double>(), 2.01)
        << boost::json::serialize(named["exchange-rates"]);
    EXPECT_DOUBLE_EQ(named["analytics"].at("interval_seconds").to_number<double>(), 1.001)
        << boost::json::serialize(named["analytics"]);
    EXPECT_DOUBLE_EQ(named["session-cleanup"].at("interval_seconds").to_number<double>(), 0.02);
}

TEST_F(ServeReports, SigtermWithLongJobAndActivePeriodicTasksExitsZero) {
    ASSERT_NO_FATAL_FAILURE(start());
    auto id = start_job("3600");
    ASSERT_FALSE(id.empty());
    // Some short jobs finishing around the signal, too.
    for (int i = 0; i < 10; ++i) EXPECT_FALSE(start_job("0.01").empty());
    ASSERT_TRUE(periodic_tasks_ran(3)) << "the periodic tasks are not running";
    EXPECT_EQ(status_of(id), "running");

    process_->send_signal(SIGTERM);
    auto status = process_->wait_exit(kExitTimeout);
    ASSERT_TRUE(status) << "the process did not exit after SIGTERM";
    EXPECT_TRUE(status->success()) << status->describe();
    const auto err = process_->stderr_text();
    EXPECT_NE(err.find("shutdown complete"), std::string::npos) << tail(err);
    EXPECT_EQ(err.find("AddressSanitizer"), std::string::npos) << tail(err);
    EXPECT_EQ(err.find("LeakSanitizer"), std::string::npos) << tail(err);
    EXPECT_EQ(err.find("runtime error"), std::string::npos) << tail(err);
}

TEST_F(ServeReports, SigtermCancelsRunningJobsSoTheyCanCleanUp) {
    // Report jobs are tracked by the app (App::spawn): the shutdown ladder waits for them up
    // to the drain deadline, then cancels them, so their clean-up runs before the exit.
    ASSERT_NO_FATAL_FAILURE(start("3600", {"--drain-timeout", "1"}));
    auto id = start_job("3600");
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(eventually([&] { return stderr_has("[" + id + "] starting report generation"); }));

    process_->send_signal(SIGTERM);
    auto status = process_->wait_exit(kExitTimeout);
    ASSERT_TRUE(status) << "the process did not exit after SIGTERM";
    EXPECT_TRUE(status->success()) << status->describe();
    const auto err = process_->stderr_text();
    const auto cancelled = err.find("[" + id + "] report cancelled");
    EXPECT_NE(cancelled, std::string::npos) << "the job was never cancelled at shutdown\n"
                                            << tail(err);
    if (cancelled != std::string::npos) {
        EXPECT_LT(cancelled, err.find("shutdown complete")) << tail(err);
    }
}

TEST_F(ServeReports, SigtermWhileAJobIsInItsBlockingPartExitsCleanly) {
    // A job blocked in to_thread at shutdown is cancelled: its wait ends at once, the loops
    // go only after, and the blocked call is left to the process exit (the default pools are
    // never destroyed), so there is no use-after-free and no hang.
    ASSERT_NO_FATAL_FAILURE(start("3600", {"--drain-timeout", "1"}));
    auto id = job_blocked_in_its_file_write();
    if (wchan_hidden_) GTEST_SKIP() << "/proc/<pid>/task/*/wchan is hidden here";
    ASSERT_FALSE(id.empty());

    process_->send_signal(SIGTERM);
    // Release the write only once the service is down (loops gone), as a slow disk catching
    // up late would. A shutdown that chooses to wait for the write instead never logs this:
    // then it is released at the deadline, and the process must still exit cleanly.
    eventually([&] { return stderr_has("shutdown complete"); }, kExitTimeout);
    FifoReader reader(report_file(id));
    ASSERT_TRUE(reader.is_open());
    EXPECT_TRUE(reader.drain()) << "the report write did not finish once released";

    auto status = process_->wait_exit(kExitTimeout);
    ASSERT_TRUE(status) << "the process did not exit after SIGTERM";
    EXPECT_TRUE(status->success()) << status->describe();
    const auto err = process_->stderr_text();
    EXPECT_EQ(err.find("AddressSanitizer"), std::string::npos) << tail(err);
    EXPECT_EQ(err.find("runtime error"), std::string::npos) << tail(err);
}

TEST_F(ServeReports, ManyConcurrentJobsAllComplete) {
    ASSERT_NO_FATAL_FAILURE(start());
    constexpr int kThreads = 4;
    constexpr int kPerThread = 50;
    std::mutex mutex;
    std::vector<std::string> ids;
    std::vector<std::string> failures;
    std::vector<std::thread> clients;
    for (int t = 0; t < kThreads; ++t) {
        clients.emplace_back([&] {
            for (int i = 0; i < kPerThread; ++i) {
                auto response = http_request(port_, "POST", "/reports/generate?seconds=0.05");
                std::lock_guard lock(mutex);
                if (!response) {
                    failures.push_back(response.error().message());
                } else if (response->status != 200) {
                    failures.push_back(std::to_string(response->status) + " " + response->body);
                } else {
                    try {
                        ids.push_back(str(response->json().at("job_id")));
                    } catch (const std::exception& e) {
                        failures.push_back(e.what());
                    }
                }
            }
        });
    }
    for (auto& client : clients) client.join();
    ASSERT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
    ASSERT_EQ(ids.size(), std::size_t{kThreads * kPerThread});
    std::set<std::string> unique(ids.begin(), ids.end());
    EXPECT_EQ(unique.size(), ids.size()) << "duplicate job ids";
    for (const auto& id : ids) EXPECT_TRUE(is_job_id(id)) << id;

    std::set<std::string> left = unique;
    std::map<std::string, std::string> ended;
    EXPECT_TRUE(eventually(
        [&] {
            for (auto it = left.begin(); it != left.end();) {
                auto status = status_of(*it);
                if (status == "running") {
                    ++it;
                    continue;
                }
                ended[*it] = status;
                it = left.erase(it);
            }
            return left.empty();
        },
        60s))
        << left.size() << " job(s) still running";
    for (const auto& [id, status] : ended) {
        EXPECT_EQ(status, "complete") << id;
        EXPECT_TRUE(std::filesystem::is_regular_file(report_file(id))) << id;
    }
    EXPECT_EQ(get("/healthz").status, 200);
}

}  // namespace
}  // namespace afterwork

// SPDX-License-Identifier: MIT
// The `afterwork serve` command as a user runs it: the built binary (AFTERWORK_BINARY) in a
// child process on a free port with a fresh data folder, driven over HTTP, stopped with
// SIGTERM/SIGINT, and started with options that must fail. Files the background tasks write are
// polled under a deadline; the child is killed if a test fails.

#include <signal.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <map>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <afterwork/schedule/time_zone.hpp>
#include <afterwork/schedule/trigger.hpp>

#include "support/eventually.hpp"
#include "support/process.hpp"
#include "support/socket_client.hpp"

#ifndef AFTERWORK_BINARY
#error "AFTERWORK_BINARY must name the afterwork executable"
#endif

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using testing::http_request;
using testing::Process;

constexpr std::string_view kBanner = testing::kServeBanner;
// Generous: an ASan build starting on a busy two-core machine.
constexpr auto kStartTimeout = 60s;
constexpr auto kExitTimeout = 60s;

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

bool has_line(const std::filesystem::path& path, std::string_view line) {
    std::istringstream lines(read_text(path));
    for (std::string current; std::getline(lines, current);) {
        if (current == line) return true;
    }
    return false;
}

// Polls `path` until it holds `line` or the deadline passes.
bool wait_for_line_in(const std::filesystem::path& path,
                      std::string_view line,
                      SteadyClock::duration timeout = 20s) {
    return testing::eventually([&] { return has_line(path, line); }, timeout, 10ms);
}

std::vector<std::string> serve_args(const std::string& data_dir, const std::string& port = "0") {
    return {
        "serve", "--host", "127.0.0.1", "--port", port, "--data-dir", data_dir, "--threads", "2"};
}

// `serve` on a free port and `data_dir`, plus `extra` (later options win).
std::vector<std::string> with(const std::string& data_dir, std::vector<std::string> extra) {
    auto args = serve_args(data_dir);
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

class ServeCommand : public ::testing::Test {
protected:
    // Starts the service and learns its port from the banner on stdout.
    void start(std::vector<std::string> extra = {}) {
        process_.emplace(AFTERWORK_BINARY, with(data_.string(), std::move(extra)));
        auto port = testing::wait_for_serve_port(*process_, kStartTimeout);
        ASSERT_TRUE(port) << "no banner on stdout\n" << process_->diagnostics();
        port_ = *port;
    }

    void TearDown() override {
        if (HasFailure() && process_) {
            std::cerr << "afterwork serve output:\n" << process_->diagnostics() << "\n";
        }
    }

    std::filesystem::path file(std::string_view name) const { return data_.path() / name; }

    testing::RawResponse post(std::string_view target, std::string_view body = {}) {
        auto response =
            http_request(port_, "POST", target, body, {{"Content-Type", "application/json"}});
        EXPECT_TRUE(response) << target << ": " << response.error().message();
        return response ? *response : testing::RawResponse{};
    }

    testing::RawResponse get(std::string_view target) {
        auto response = http_request(port_, "GET", target);
        EXPECT_TRUE(response) << target << ": " << response.error().message();
        return response ? *response : testing::RawResponse{};
    }

    // Sends `signal` while a ?delay=1 notification is pending; the process must drain it and
    // exit 0.
    void expect_graceful_stop_on(int signal) {
        start();
        ASSERT_FALSE(HasFatalFailure());
        const std::string line = "notification for late@example.com: some notification";
        auto response = post("/send-notification/late@example.com?delay=1");
        ASSERT_EQ(response.status, 200) << response.body;
        EXPECT_FALSE(has_line(file("log.txt"), line)) << "the delayed task ran before the signal";
        process_->send_signal(signal);
        auto status = process_->wait_exit(kExitTimeout);
        ASSERT_TRUE(status) << "the process did not exit after the signal";
        EXPECT_TRUE(has_line(file("log.txt"), line))
            << "the pending notification was lost at shutdown";
        EXPECT_TRUE(status->success()) << status->describe();
        EXPECT_NE(process_->stderr_text().find("shutting down"), std::string::npos)
            << process_->diagnostics();
    }

    testing::TempDir data_ = testing::free_data_dir();
    std::optional<Process> process_;
    std::uint16_t port_ = 0;
};

TEST_F(ServeCommand, WritesNotificationAfterTheResponse) {
    ASSERT_NO_FATAL_FAILURE(start());
    auto response = post("/send-notification/a@example.com");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, R"({"message":"Notification sent in the background"})");
    EXPECT_TRUE(
        wait_for_line_in(file("log.txt"), "notification for a@example.com: some notification"))
        << read_text(file("log.txt"));

    // The plain-function variant runs on the background pool.
    EXPECT_EQ(post("/send-notification/sync@example.com?sync=1").status, 200);
    EXPECT_TRUE(
        wait_for_line_in(file("log.txt"), "notification for sync@example.com: some notification"))
        << read_text(file("log.txt"));
}

TEST_F(ServeCommand, DelayedNotificationIsWrittenOnlyAfterTheResponse) {
    ASSERT_NO_FATAL_FAILURE(start());
    const std::string line = "notification for b@example.com: some notification";
    auto response = post("/send-notification/b@example.com?delay=1");
    EXPECT_EQ(response.status, 200);
    // The answer came first: the task sleeps a second before it writes.
    EXPECT_FALSE(has_line(file("log.txt"), line));
    EXPECT_TRUE(wait_for_line_in(file("log.txt"), line)) << read_text(file("log.txt"));

    auto bad_delay = post("/send-notification/b@example.com?delay=-1");
    EXPECT_EQ(bad_delay.status, 422);
    auto not_a_number = post("/send-notification/b@example.com?delay=soon");
    EXPECT_EQ(not_a_number.status, 422);
}

TEST_F(ServeCommand, SignupAnswers201AndRunsBothTasks) {
    ASSERT_NO_FATAL_FAILURE(start());
    auto response = post("/signup", R"({"email":"x@y.z","name":"X"})");
    EXPECT_EQ(response.status, 201);
    EXPECT_EQ(response.body, R"({"user_id":42,"email":"x@y.z"})");
    EXPECT_TRUE(wait_for_line_in(file("emails.txt"), "welcome email to x@y.z (X)"))
        << read_text(file("emails.txt"));
    EXPECT_TRUE(wait_for_line_in(file("signups.txt"), "signup user_id=42 source=organic"))
        << read_text(file("signups.txt"));

    auto with_source = post("/signup", R"({"email":"s@y.z","name":"S","source":"ads"})");
    EXPECT_EQ(with_source.status, 201);
    EXPECT_TRUE(wait_for_line_in(file("signups.txt"), "signup user_id=42 source=ads"))
        << read_text(file("signups.txt"));
}

TEST_F(ServeCommand, SignupWithMissingFieldGets422AndRunsNoTask) {
    ASSERT_NO_FATAL_FAILURE(start());
    auto response = post("/signup", R"({"email":"x@y.z"})");
    EXPECT_EQ(response.status, 422);
    EXPECT_EQ(response.body,
              R"({"detail":[{"loc":["body","name"],"msg":"Field required","type":"missing"}]})");
    auto invalid = post("/signup", "{not json");
    EXPECT_EQ(invalid.status, 422);
    EXPECT_NE(invalid.body.find("json_invalid"), std::string::npos) << invalid.body;

    // A later good signup's tasks are the only ones in the files.
    EXPECT_EQ(post("/signup", R"({"email":"ok@y.z","name":"Ok"})").status, 201);
    ASSERT_TRUE(wait_for_line_in(file("signups.txt"), "signup user_id=42 source=organic"));
    ASSERT_TRUE(wait_for_line_in(file("emails.txt"), "welcome email to ok@y.z (Ok)"));
    EXPECT_EQ(read_text(file("emails.txt")), "welcome email to ok@y.z (Ok)\n");
    EXPECT_EQ(read_text(file("signups.txt")), "signup user_id=42 source=organic\n");
}

TEST_F(ServeCommand, HealthzAndMetricsCountRequests) {
    ASSERT_NO_FATAL_FAILURE(start());
    auto health = get("/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, R"({"status":"ok"})");
    EXPECT_EQ(get("/healthz").status, 200);
    EXPECT_EQ(get("/no-such-route").status, 404);
    EXPECT_EQ(post("/send-notification/m@example.com").status, 200);
    ASSERT_TRUE(
        wait_for_line_in(file("log.txt"), "notification for m@example.com: some notification"));

    auto metrics = get("/metrics");
    ASSERT_EQ(metrics.status, 200);
    auto json = metrics.json();
    // Four requests before, and this one.
    EXPECT_EQ(json.at("requests"), 5) << metrics.body;
    EXPECT_EQ(json.at("errors"), 0) << metrics.body;
    EXPECT_EQ(json.at("pid"), process_->pid()) << metrics.body;
    const auto& background = json.at("background_tasks");
    EXPECT_EQ(background.at("scheduled"), 1) << metrics.body;
    EXPECT_EQ(background.at("succeeded"), 1) << metrics.body;
    EXPECT_EQ(background.at("pending"), 0) << metrics.body;
}

TEST_F(ServeCommand, SigtermDrainsPendingNotificationAndExitsZero) {
    // Also guards the order of release_runtime: the signal set must go before its loop (a
    // use-after-free under ASan once made this exit 1).
    expect_graceful_stop_on(SIGTERM);
}

TEST_F(ServeCommand, SigintDrainsPendingNotificationAndExitsZero) {
    expect_graceful_stop_on(SIGINT);
}

// The article's three cron jobs, listed as its GET /jobs does, in the zone of --cron-tz.
TEST_F(ServeCommand, JobsListsTheCronJobsWithTheirNextRunInTheConfiguredZone) {
    const auto before = std::chrono::system_clock::now();
    start({"--cron-tz", "Europe/Berlin"});
    ASSERT_FALSE(HasFatalFailure());
    auto response = get("/jobs");
    ASSERT_EQ(response.status, 200) << response.body;
    auto list = boost::json::parse(response.body).as_array();
    ASSERT_EQ(list.size(), 3u) << response.body;
    std::map<std::string, std::string> next_runs;
    for (const auto& item : list) {
        const auto& job = item.as_object();
        EXPECT_EQ(job.size(), 3u) << response.body;  // id, name, next_run: the article's shape
        EXPECT_EQ(job.at("id"), job.at("name"));
        next_runs[std::string(job.at("id").as_string())] = job.at("next_run").as_string();
    }
    const std::map<std::string, std::string> expressions = {
        {"daily_digest", "0 9 * * *"}, {"hourly_cleanup", "0 * * * *"},
        {"weekly_report", "0 8 * * mon"}};
    const auto after = std::chrono::system_clock::now();
    for (const auto& [id, expression] : expressions) {
        SCOPED_TRACE(id);
        ASSERT_TRUE(next_runs.contains(id)) << response.body;
        const std::string& text = next_runs[id];
        // ISO 8601 with Berlin's offset, winter or summer.
        EXPECT_TRUE(text.ends_with("+01:00") || text.ends_with("+02:00")) << text;
        const auto next = parse_iso8601(text);
        CronTrigger trigger(expression, "Europe/Berlin");
        // The next run as of some instant between the start and the answer.
        EXPECT_TRUE(next == trigger.next_after(before) || next == trigger.next_after(after))
            << text;
    }
    EXPECT_EQ(get("/schedules").status, 200);
}

TEST(ServeCommandStartup, PortAlreadyTakenExitsNonZeroWithMessageOnStderr) {
    // The reason a start fails goes to stderr (logs), not stdout (what scripts parse), so
    // `afterwork serve 2>err.log` or a supervisor showing stderr says why the service died.
    testing::Listener taken;
    auto data = testing::free_data_dir();
    Process process(AFTERWORK_BINARY, serve_args(data.string(), std::to_string(taken.port())));
    auto status = process.wait_exit(kExitTimeout);
    ASSERT_TRUE(status) << "serve kept running on a taken port\n" << process.diagnostics();
    EXPECT_TRUE(status->exited && status->code != 0) << process.diagnostics();
    EXPECT_NE(process.stderr_text().find("Address already in use"), std::string::npos)
        << process.diagnostics();
    EXPECT_EQ(process.stdout_text().find(kBanner), std::string::npos);
}

TEST(ServeCommandStartup, DataDirThatCannotBeCreatedExitsNonZeroWithMessageOnStderr) {
    // The AddressSanitizer check guards the order of release_runtime: a startup hook failing
    // after bind once freed the loops before the bound acceptor and crashed before the reason
    // was logged.
    auto scratch = testing::free_data_dir();
    const auto regular_file = scratch.path() / "a-file";
    std::ofstream(regular_file) << "not a folder\n";
    Process process(AFTERWORK_BINARY, serve_args((regular_file / "data").string()));
    auto status = process.wait_exit(kExitTimeout);
    ASSERT_TRUE(status) << "serve kept running without its data folder\n" << process.diagnostics();
    EXPECT_TRUE(status->exited && status->code != 0) << process.diagnostics();
    EXPECT_NE(process.stderr_text().find("cannot create the data folder"), std::string::npos)
        << process.diagnostics();
    EXPECT_EQ(process.stderr_text().find("AddressSanitizer"), std::string::npos)
        << process.diagnostics();
    EXPECT_EQ(process.stdout_text().find(kBanner), std::string::npos);
}

TEST(ServeCommandStartup, ADamagedDatabaseExitsNonZeroNamingTheFile) {
    auto data = testing::free_data_dir();
    std::ofstream(data.path() / "afterwork.db", std::ios::binary)
        << std::string(8192, 'x') << "this is not an SQLite database";
    Process process(AFTERWORK_BINARY, serve_args(data.string()));
    auto status = process.wait_exit(kExitTimeout);
    ASSERT_TRUE(status) << "serve kept running on a damaged database\n" << process.diagnostics();
    EXPECT_TRUE(status->exited && status->code == 1) << process.diagnostics();
    EXPECT_NE(process.stderr_text().find("afterwork.db"), std::string::npos)
        << process.diagnostics();
    EXPECT_EQ(process.stdout_text().find(kBanner), std::string::npos);
}

TEST(ServeCommandStartup, BadOptionsExitNonZeroWithMessageOnStderr) {
    auto data = testing::free_data_dir();
    struct Case {
        std::vector<std::string> args;
        std::string mentions;
    };
    const std::vector<Case> cases = {
        {serve_args(data.string(), "70000"), "--port"},
        {serve_args(data.string(), "http"), "--port"},
        {with(data.string(), {"--threads", "-1"}), "--threads"},
        {with(data.string(), {"--threads", "5000"}), "--threads"},
        {with(data.string(), {"--no-such-option"}), "--no-such-option"},
        {with(data.string(), {"--drain-timeout", "-5"}), "--drain-timeout"},
        {with(data.string(), {"--cron-tz", "Mars/Olympus"}), "unknown time zone \"Mars/Olympus\""},
        {with(data.string(), {"--cron-tz", ""}), "--cron-tz"},
    };
    for (const auto& c : cases) {
        std::string joined;
        for (const auto& arg : c.args) joined += arg + " ";
        SCOPED_TRACE(joined);
        Process process(AFTERWORK_BINARY, c.args);
        auto status = process.wait_exit(kExitTimeout);
        ASSERT_TRUE(status) << "serve started despite a bad option\n" << process.diagnostics();
        EXPECT_TRUE(status->exited && status->code == 2) << process.diagnostics();
        EXPECT_NE(process.stderr_text().find(c.mentions), std::string::npos)
            << process.diagnostics();
        EXPECT_EQ(process.stdout_text().find(kBanner), std::string::npos);
    }
}

}  // namespace
}  // namespace afterwork

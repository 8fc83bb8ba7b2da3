// SPDX-License-Identifier: MIT
// The reference service's durable jobs over the built binary: an export with progress, its
// cancel, a durable signup email, the REST API, and an export that was running when the
// process was killed (SIGKILL) finishing after a restart.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "support/eventually.hpp"
#include "support/process.hpp"
#include "support/socket_client.hpp"

#ifndef AFTERWORK_BINARY
#error "AFTERWORK_BINARY must name the afterwork executable"
#endif

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::Process;

constexpr auto kStartTimeout = 60s;

class ServeExports : public ::testing::Test {
protected:
    void TearDown() override {
        if (HasFailure() && process_) std::cerr << process_->diagnostics() << "\n";
        if (process_ && process_->running()) {
            process_->send_signal(SIGTERM);
            process_->wait_exit(60s);
        }
    }

    void start() {
        process_.emplace(AFTERWORK_BINARY,
                         std::vector<std::string>{"serve",
                                                  "--host",
                                                  "127.0.0.1",
                                                  "--port",
                                                  "0",
                                                  "--data-dir",
                                                  data_.string(),
                                                  "--threads",
                                                  "2",
                                                  "--job-lease",
                                                  "1"},
                         testing::ProcessOptions{.env = {{"AFTERWORK_ADMIN_TOKEN", "t0ken"}}});
        auto port = testing::wait_for_serve_port(*process_, kStartTimeout);
        ASSERT_TRUE(port) << process_->diagnostics();
        port_ = *port;
    }

    testing::RawResponse call(std::string_view method,
                              std::string_view target,
                              std::string_view body = {},
                              const testing::Headers& headers = {}) {
        auto response = testing::http_request(port_, method, target, body, headers);
        EXPECT_TRUE(response) << target << ": " << response.error().message();
        return response ? *response : testing::RawResponse{};
    }

    boost::json::value export_job(std::int64_t id) {
        auto response = call("GET", "/exports/" + std::to_string(id));
        if (response.status != 200) return nullptr;
        return boost::json::parse(response.body);
    }

    std::int64_t start_export(std::string_view seconds) {
        auto response = call("POST", "/exports?seconds=" + std::string(seconds));
        EXPECT_EQ(response.status, 202) << response.body;
        if (response.status != 202) return 0;
        return boost::json::parse(response.body).at("id").to_number<std::int64_t>();
    }

    testing::TempDir data_ = testing::free_data_dir();
    std::optional<Process> process_;
    std::uint16_t port_ = 0;
};

TEST_F(ServeExports, AnExportReportsProgressAndSucceedsWithItsFile) {
    start();
    ASSERT_FALSE(HasFatalFailure());
    const auto id = start_export("1");
    double seen_progress = 0;
    ASSERT_TRUE(eventually(
        [&] {
            auto job = export_job(id);
            if (job.is_null()) return false;
            seen_progress = std::max(seen_progress, job.at("progress").to_number<double>());
            return job.at("state") == "succeeded";
        },
        60s));
    auto job = export_job(id);
    EXPECT_EQ(job.at("progress").to_number<double>(), 1.0);
    EXPECT_EQ(job.at("attempt"), 1);
    EXPECT_EQ(job.at("result").at("rows"), 1000);
    const std::string file(job.at("result").at("file").as_string());
    EXPECT_TRUE(std::filesystem::exists(file)) << file;
    EXPECT_GT(seen_progress, 0.0);
}

TEST_F(ServeExports, CancellingARunningExportEndsItCancelled) {
    start();
    ASSERT_FALSE(HasFatalFailure());
    const auto id = start_export("3600");
    ASSERT_TRUE(eventually([&] { return export_job(id).at("state") == "running"; }, 60s));
    auto cancelled = call("DELETE", "/exports/" + std::to_string(id));
    ASSERT_EQ(cancelled.status, 200) << cancelled.body;
    ASSERT_TRUE(eventually([&] { return export_job(id).at("state") == "cancelled"; }, 60s));
    auto again = call("DELETE", "/exports/" + std::to_string(id));
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(boost::json::parse(again.body).at("state"), "cancelled");
}

TEST_F(ServeExports, UnknownIdsAndBadDurationsGetDefinedErrors) {
    start();
    ASSERT_FALSE(HasFatalFailure());
    EXPECT_EQ(call("GET", "/exports/999").status, 404);
    EXPECT_EQ(call("DELETE", "/exports/999").status, 404);
    EXPECT_EQ(call("GET", "/exports/0").status, 404);
    EXPECT_EQ(call("GET", "/exports/abc").status, 422);
    EXPECT_EQ(call("POST", "/exports?seconds=-1").status, 422);
    EXPECT_EQ(call("POST", "/exports?seconds=1e9").status, 422);
    EXPECT_EQ(call("POST", "/exports?seconds=soon").status, 422);
    // A durable signup's job is not an export.
    auto signup = call("POST",
                       "/signup?durable=1",
                       R"({"email":"ada@example.com","name":"Ada"})",
                       {{"Content-Type", "application/json"}});
    ASSERT_EQ(signup.status, 201) << signup.body;
    const auto job = boost::json::parse(signup.body).at("welcome_job_id").to_number<std::int64_t>();
    EXPECT_EQ(call("GET", "/exports/" + std::to_string(job)).status, 404);
}

TEST_F(ServeExports, ADurableSignupEmailIsStoredBeforeTheAnswerAndSent) {
    start();
    ASSERT_FALSE(HasFatalFailure());
    auto signup = call("POST",
                       "/signup?durable=1",
                       R"({"email":"ada@example.com","name":"Ada"})",
                       {{"Content-Type", "application/json"}});
    ASSERT_EQ(signup.status, 201) << signup.body;
    const auto id = boost::json::parse(signup.body).at("welcome_job_id").to_number<std::int64_t>();
    // Through the REST API: the job exists as soon as the answer came.
    auto job = call("GET", "/afterwork/api/jobs/" + std::to_string(id));
    ASSERT_EQ(job.status, 200) << job.body;
    EXPECT_EQ(boost::json::parse(job.body).at("name"), "send_welcome_email");
    ASSERT_TRUE(eventually(
        [&] {
            std::ifstream in(data_.path() / "emails.txt");
            std::stringstream text;
            text << in.rdbuf();
            return text.str().find("welcome email to ada@example.com (Ada)") != std::string::npos;
        },
        60s));
    EXPECT_EQ(call("POST", "/afterwork/api/jobs", R"({"name":"send_welcome_email"})").status, 401);
}

TEST_F(ServeExports, AnExportRunningAtAKillFinishesAfterTheRestart) {
    start();
    ASSERT_FALSE(HasFatalFailure());
    const auto id = start_export("3");
    ASSERT_TRUE(eventually(
        [&] {
            auto job = export_job(id);
            return !job.is_null() && job.at("state") == "running" &&
                   job.at("progress").to_number<double>() > 0;
        },
        60s));
    process_->send_signal(SIGKILL);
    ASSERT_TRUE(process_->wait_exit(60s));

    start();  // same data folder; the lease (1 s) ends, the job runs again
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(eventually(
        [&] {
            auto job = export_job(id);
            return !job.is_null() && job.at("state") == "succeeded";
        },
        90s))
        << boost::json::serialize(export_job(id));
    auto job = export_job(id);
    EXPECT_EQ(job.at("attempt"), 2);
    const auto& errors = job.at("errors").as_array();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(std::string(errors.at(0).at("message").as_string()).find("lease"), std::string::npos);
}

}  // namespace
}  // namespace afterwork

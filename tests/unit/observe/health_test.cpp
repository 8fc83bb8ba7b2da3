// SPDX-License-Identifier: MIT
// mount_health on a minimal app, through the TestClient.

#include <afterwork/observe/health.hpp>

#include <stdexcept>

#include <gtest/gtest.h>

#include <afterwork/testing/test_client.hpp>

namespace afterwork {
namespace {

using testing::TestClient;

TEST(Health, AnswersOkAtItsPath) {
    App app;
    mount_health(app);
    TestClient client(app);
    auto response = client.get("/healthz");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, R"({"status":"ok"})");
}

TEST(Health, MountsAtAnotherPath) {
    App app;
    mount_health(app, "/livez");
    TestClient client(app);
    EXPECT_EQ(client.get("/livez").status, 200);
    EXPECT_EQ(client.get("/healthz").status, 404);
}

TEST(Health, RefusesOtherMethods) {
    App app;
    mount_health(app);
    TestClient client(app);
    auto response = client.post("/healthz");
    EXPECT_EQ(response.status, 405);
    EXPECT_EQ(response.header("allow"), "GET");
}

TEST(Health, ATakenPathThrows) {
    App app;
    mount_health(app);
    EXPECT_THROW(mount_health(app), std::invalid_argument);
}

}  // namespace
}  // namespace afterwork

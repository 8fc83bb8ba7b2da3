// SPDX-License-Identifier: MIT
// parse_store_url: every accepted form, and malformed, oversized and hostile URLs rejected
// with a message that names the problem and never shows the password.

#include <afterwork/jobs/store_url.hpp>

#include <string>

#include <gtest/gtest.h>

namespace afterwork {
namespace {

StoreUrl parsed(std::string_view url) {
    auto result = parse_store_url(url);
    EXPECT_TRUE(result.has_value()) << url << ": "
                                    << (result ? std::string() : result.error().what());
    return result ? *result : StoreUrl{};
}

std::string rejected(std::string_view url) {
    auto result = parse_store_url(url);
    EXPECT_FALSE(result.has_value()) << url << " was accepted";
    if (result) return {};
    EXPECT_EQ(result.error().code(), JobsErrc::invalid_argument);
    return result.error().what();
}

TEST(StoreUrl, SqliteAbsoluteAndRelativePaths) {
    auto absolute = parsed("sqlite:///var/lib/afterwork/jobs.db");
    EXPECT_EQ(absolute.kind, StoreUrl::Kind::sqlite);
    EXPECT_EQ(absolute.path, "/var/lib/afterwork/jobs.db");
    EXPECT_EQ(absolute.redacted(), "sqlite:///var/lib/afterwork/jobs.db");
    auto relative = parsed("sqlite:var/afterwork.db");
    EXPECT_EQ(relative.path, "var/afterwork.db");
    EXPECT_EQ(relative.redacted(), "sqlite:var/afterwork.db");
}

TEST(StoreUrl, RedisWithDefaultsPortDatabaseAndCredentials) {
    auto plain = parsed("redis://localhost");
    EXPECT_EQ(plain.kind, StoreUrl::Kind::redis);
    EXPECT_EQ(plain.host, "localhost");
    EXPECT_EQ(plain.port, 6379);
    EXPECT_EQ(plain.database, 0);
    EXPECT_FALSE(plain.password.has_value());
    EXPECT_EQ(plain.redacted(), "redis://localhost:6379/0");

    auto full = parsed("redis://:s3cr%40t@10.0.0.5:6380/2");
    EXPECT_EQ(full.host, "10.0.0.5");
    EXPECT_EQ(full.port, 6380);
    EXPECT_EQ(full.database, 2);
    EXPECT_EQ(full.password, "s3cr@t");
    EXPECT_FALSE(full.user.has_value());
    EXPECT_EQ(full.redacted(), "redis://:***@10.0.0.5:6380/2");

    auto acl = parsed("redis://worker:pw@[::1]:7000/");
    EXPECT_EQ(acl.user, "worker");
    EXPECT_EQ(acl.password, "pw");
    EXPECT_EQ(acl.host, "::1");
    EXPECT_EQ(acl.port, 7000);
    EXPECT_EQ(acl.redacted(), "redis://worker:***@[::1]:7000/0");
}

TEST(StoreUrl, MalformedUrlsNameTheirProblem) {
    EXPECT_NE(rejected("").find("unknown kind"), std::string::npos);
    EXPECT_NE(rejected("postgres://db/jobs").find("unknown kind"), std::string::npos);
    EXPECT_NE(rejected("sqlite:").find("no file path"), std::string::npos);
    EXPECT_NE(rejected("sqlite://server/jobs.db").find("names a host"), std::string::npos);
    EXPECT_NE(rejected("redis://").find("no host"), std::string::npos);
    EXPECT_NE(rejected("redis://:6379").find("no host"), std::string::npos);
    EXPECT_NE(rejected("redis://host:").find("empty port"), std::string::npos);
    EXPECT_NE(rejected("redis://host:0").find("port must be 1 to 65535"), std::string::npos);
    EXPECT_NE(rejected("redis://host:65536").find("port must be"), std::string::npos);
    EXPECT_NE(rejected("redis://host:63x9").find("port must be"), std::string::npos);
    EXPECT_NE(rejected("redis://host/-1").find("database must be"), std::string::npos);
    EXPECT_NE(rejected("redis://host/zero").find("database must be"), std::string::npos);
    EXPECT_NE(rejected("redis://host/99999999999").find("database must be"), std::string::npos);
    EXPECT_NE(rejected("redis://::1:6379").find("brackets"), std::string::npos);
    EXPECT_NE(rejected("redis://[::1:6379").find("']'"), std::string::npos);
    EXPECT_NE(rejected("redis://host?timeout=1").find("query"), std::string::npos);
    EXPECT_NE(rejected("redis://ho st").find("the host has a ' '"), std::string::npos);
    EXPECT_NE(rejected("rediss://host").find("TLS"), std::string::npos);
    EXPECT_NE(rejected("redis://pw@host").find("':' before the password"), std::string::npos);
    EXPECT_NE(rejected("redis://:bad%zz@host").find("percent-escape"), std::string::npos);
    EXPECT_NE(rejected("redis://:bad%4@host").find("percent-escape"), std::string::npos);
}

TEST(StoreUrl, HostileInputIsRefusedAndNeverEchoesThePassword) {
    const std::string huge = "redis://" + std::string(kMaxStoreUrlLength, 'a');
    const auto too_long = rejected(huge);
    EXPECT_NE(too_long.find("characters long"), std::string::npos);
    EXPECT_LT(too_long.size(), 200u) << "the message does not repeat the whole input";
    EXPECT_NE(rejected(std::string("sqlite:/tmp/a\0b.db", 19)).find("control character"),
              std::string::npos);
    EXPECT_NE(rejected("redis://host\n:6379").find("control character"), std::string::npos);
    const auto message = rejected("redis://:hunter2@host:99999");
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    EXPECT_NE(message.find("***"), std::string::npos) << message;
}

}  // namespace
}  // namespace afterwork

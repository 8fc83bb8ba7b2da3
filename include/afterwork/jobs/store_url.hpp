// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `parse_store_url`: where a job store is, in the one form every command and app takes
/// (`--store`, `AFTERWORK_STORE`):
///
///     sqlite:///absolute/path.db     sqlite:relative/path.db
///     redis://host[:port][/db]       redis://:password@host[:port][/db]
///     redis://user:password@[::1]:6380/2
///
/// The password may be percent-encoded (`%40` for `@`). A bad URL is an `invalid_argument`
/// error whose message names the part that is wrong; nothing is opened or connected here.
///
/// @par Thread safety
/// A pure function.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <afterwork/jobs/jobs_error.hpp>

namespace afterwork {

struct StoreUrl {
    enum class Kind : std::uint8_t { sqlite, redis };
    Kind kind = Kind::sqlite;
    std::filesystem::path path;           ///< sqlite: the database file
    std::string host;                     ///< redis: a name or an address (IPv6 without brackets)
    std::uint16_t port = 6379;            ///< redis
    int database = 0;                     ///< redis: `SELECT` index
    std::optional<std::string> user;      ///< redis: ACL user
    std::optional<std::string> password;  ///< redis: decoded

    /// The URL with the password masked, for logs and error messages.
    std::string redacted() const;
};

/// At most this many characters: a store URL is typed or set in an environment variable.
inline constexpr std::size_t kMaxStoreUrlLength = 4096;

[[nodiscard]] JobsResult<StoreUrl> parse_store_url(std::string_view url);

}  // namespace afterwork

// SPDX-License-Identifier: MIT
#pragma once

// Percent-decoding of paths and query strings. Pure functions, thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace afterwork::detail {

/// Decodes %XX escapes (and '+' as space when `plus_is_space`); nullopt on a malformed escape
/// or an encoded NUL.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

/// Splits "a=1&b=x%20y" into decoded pairs; nullopt when an escape is malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query);

}  // namespace afterwork::detail

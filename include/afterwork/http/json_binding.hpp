// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Maps request JSON and URL text onto C++ types, and C++ values back to JSON, with FastAPI's
/// validation rules and error shapes.
///
/// `bind_json<T>` is what a handler's body parameter goes through: it follows pydantic v2's lax
/// mode for JSON input (`"42"` is an acceptable `int`, `true` is not), visits the whole input
/// and throws one `ValidationError` listing every issue, each with its `loc`
/// (`["body","tags",2]`), pydantic's message and pydantic's type string. `parse_text<T>` and
/// `text_issue<T>` do the same for path and query parameters; `to_json` is the inverse used for
/// responses.
///
/// Supported types: `bool`; integral types (range-checked against the C++ type); `float`,
/// `double`, `long double`; `std::string`; `std::optional<U>`; `std::vector<U>`;
/// `std::map<std::string, U>` and `std::unordered_map<std::string, U>`; `boost::json::value`,
/// `object` and `array` (taken as they are); enums described with `BOOST_DESCRIBE_ENUM` (by
/// enumerator name); default-constructible structs described with `BOOST_DESCRIBE_STRUCT`.
/// This header brings the Describe macros (`BOOST_DESCRIBE_STRUCT`, `BOOST_DESCRIBE_ENUM`), so
/// a file that includes it, or `<afterwork/afterwork.hpp>`, needs no other include to describe
/// its types.
///
/// Struct rules, as pydantic's: unknown keys are ignored; a missing key is a `missing` issue,
/// except for a `std::optional` member, which keeps the value it was default-initialised with
/// (`std::optional<std::string> source = "organic";` stays `"organic"`); an explicit `null`
/// resets an optional member to `std::nullopt`.
///
/// @par Thread safety
/// Pure functions, safe from any thread.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <boost/mp11/algorithm.hpp>

#include <afterwork/detail/json_binding.hpp>
#include <afterwork/http/errors.hpp>

namespace afterwork {

/// Maps `v` onto a `T`, following pydantic v2's lax mode for JSON input.
///
/// Every issue is collected before throwing, each located below `loc` (object keys as strings,
/// array indexes as integers). See the file comment for the supported types and struct rules.
/// @param loc Where `v` came from, `["body"]` for a request body.
/// @throws ValidationError listing every issue found.
template <class T>
T bind_json(const boost::json::value& v, boost::json::array loc = {"body"}) {
    static_assert(std::is_default_constructible_v<T>,
                  "afterwork::bind_json: T must be default-constructible");
    T out{};
    auto issues = detail::bind_json_issues(v, out, std::move(loc));
    if (!issues.empty()) {
        throw ValidationError(std::move(issues));
    }
    return out;
}

/// Parses a request body as JSON, at most 64 levels deep.
/// @throws ValidationError with loc `["body", <byte offset of the error>]`, msg
/// `"JSON decode error"` and type `json_invalid` for malformed, too deep, invalid UTF-8, empty
/// or trailing-garbage input.
boost::json::value parse_json_body(std::string_view body);

/// Reads a path or query parameter: `T` is `std::string`, `bool`, an integral or floating type
/// or a described enum. Accepts the same text as `bind_json` accepts in a JSON string: integers
/// with optional surrounding whitespace and sign, in range for `T`; finite decimal numbers;
/// `true/false/1/0/yes/no/on/off/t/f/y/n` in any case; enumerator names.
/// @return The value, or nullopt if the whole text is not a valid `T`.
template <class T>
std::optional<T> parse_text(std::string_view text) {
    T out{};
    if (detail::from_text(text, out)) {
        return std::nullopt;
    }
    return out;
}

/// The pydantic issue (`int_parsing`, `float_parsing`, `bool_parsing`, `enum`,
/// `less_than_equal`, ...) at `loc` for `text` that `parse_text<T>` rejected. For text it would
/// accept, the issue names the type expected (e.g. `int_parsing`).
template <class T>
ValidationIssue text_issue(boost::json::array loc, std::string_view text) {
    T out{};
    auto f = detail::from_text(text, out);
    if (!f) {
        f = detail::parsing_failure<T>();
    }
    return {std::move(loc), std::move(f->msg), std::move(f->type)};
}

// `to_json(value)`, the inverse used for responses, is in afterwork/detail/json_binding.hpp
// (shared with the jobs layer).

}  // namespace afterwork

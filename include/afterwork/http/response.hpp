// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `Response`: what a handler returns — status, body, content type and extra headers — plus the
/// helpers that build the usual ones (`json_response`, `text_response`, `empty_response`).
///
/// The server adds `Content-Length`, `Date`, `Server`, `Connection` and `x-request-id`.
///
/// @par Thread safety
/// Distinct objects safe, shared unsafe (a plain value).

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>
#include <boost/json/value_ref.hpp>

namespace afterwork {

struct Response {
    int status = 200;
    std::string body;
    /// The media type of a non-empty body; empty means `application/json`, the common case
    /// (and one allocation less per response).
    std::string content_type;
    std::vector<std::pair<std::string, std::string>> headers;

    /// Adds a header (a second call with the same name adds a second line).
    Response& add_header(std::string name, std::string value);
    /// The first header called `name` (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const;
    /// The Content-Type sent with a non-empty body.
    std::string_view media_type() const noexcept {
        return content_type.empty() ? std::string_view("application/json") : content_type;
    }
};

/// `status` with `value` serialised as JSON.
Response json_response(int status, const boost::json::value& value);
inline Response json_response(const boost::json::value& value) {
    return json_response(200, value);
}
/// `status` with a JSON object or array written in place, as in
/// `json_response(201, {{"user_id", 42}, {"email", email}})`: the temporary JSON value lives
/// in a stack buffer, so only the body string is allocated.
Response json_response(int status, std::initializer_list<boost::json::value_ref> init);
inline Response json_response(std::initializer_list<boost::json::value_ref> init) {
    return json_response(200, init);
}
/// `status` with a text body (`text/plain; charset=utf-8` unless told otherwise).
Response text_response(int status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");
/// `status` with no body (e.g. 204).
Response empty_response(int status);

/// The reason phrase of a status code ("Not Found"), "Unknown" for codes it does not know.
std::string_view status_reason(int status) noexcept;

}  // namespace afterwork
